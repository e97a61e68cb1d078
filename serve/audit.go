package serve

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/initscope/initscope/arch"
	"github.com/initscope/initscope/audit"
	"github.com/initscope/initscope/data"
	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
	"github.com/initscope/initscope/safetensors"
	"github.com/initscope/initscope/task"
)

// maxAuditSamples bounds the redraws an audit from the page may ask for:
// each is a forward pass of the whole model.
const maxAuditSamples = 200

// formFieldBytes bounds each form field of an upload besides the file.
const formFieldBytes = 64 << 10

// upload is what /api/audit receives: the model file and the options of
// `initscope audit`.
type upload struct {
	name, format string
	data         []byte
	arch, input  string
	samples      int
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	up, code, e := s.readUpload(w, r)
	if up == nil {
		writeJSON(w, code, e)
		return
	}
	if !acquire(s.audits) {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("busy: the server runs at most %d audit(s) at once (--max-audits); try again in a moment", s.cfg.MaxAudits))
		return
	}
	defer func() { <-s.audits }()
	rep, code, e := runAudit(up, s.probeWorkers())
	if rep == nil {
		writeJSON(w, code, e)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// readUpload reads the multipart form of /api/audit: the part "file" (at
// most MaxUpload bytes) and the fields arch, input and samples.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) (*upload, int, apiError) {
	bad := func(code int, field, format string, a ...any) (*upload, int, apiError) {
		return nil, code, apiError{Error: oneLine(fmt.Sprintf(format, a...)), Field: field}
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+4*formFieldBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return bad(http.StatusBadRequest, "", "upload: %v: send the model as multipart/form-data", err)
	}
	up := &upload{}
	tooLarge := func() (*upload, int, apiError) {
		return bad(http.StatusRequestEntityTooLarge, "file", "the model file is larger than %s (--max-upload)", byteSize(s.cfg.MaxUpload))
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return tooLarge()
		}
		if err != nil {
			return bad(http.StatusBadRequest, "", "upload: %v", err)
		}
		switch part.FormName() {
		case "file":
			up.name = filepath.Base(part.FileName())
			up.data, err = io.ReadAll(io.LimitReader(part, s.cfg.MaxUpload+1))
			if errors.As(err, &mb) || int64(len(up.data)) > s.cfg.MaxUpload {
				return tooLarge()
			}
		case "arch", "input", "samples":
			var v string
			if v, err = formValue(part); err == nil {
				switch part.FormName() {
				case "arch":
					up.arch = v
				case "input":
					up.input = v
				default:
					if v != "" {
						n, perr := strconv.Atoi(v)
						if perr != nil || n < 0 || n > maxAuditSamples {
							return bad(http.StatusBadRequest, "samples", "--samples: %q: want 0 to %d", v, maxAuditSamples)
						}
						up.samples = n
					}
				}
			}
		default:
			return bad(http.StatusBadRequest, "", "upload: unknown field %q: want file, arch, input and samples", part.FormName())
		}
		if err != nil {
			if errors.As(err, &mb) {
				return tooLarge()
			}
			return bad(http.StatusBadRequest, part.FormName(), "upload: field %s: %v", part.FormName(), err)
		}
	}
	if up.data == nil {
		return bad(http.StatusBadRequest, "file", "upload: no model file: choose a .onnx or .safetensors file")
	}
	switch strings.ToLower(filepath.Ext(up.name)) {
	case ".onnx":
		up.format = "onnx"
	case ".safetensors":
		up.format = "safetensors"
	default:
		return bad(http.StatusBadRequest, "file", "%s: want a .onnx or .safetensors file", up.name)
	}
	return up, http.StatusOK, apiError{}
}

// formValue reads a form field of at most formFieldBytes.
func formValue(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, formFieldBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > formFieldBytes {
		return "", fmt.Errorf("longer than %s", byteSize(formFieldBytes))
	}
	return strings.TrimSpace(string(b)), nil
}

// runAudit audits an uploaded model as `initscope audit` does a file: an
// ONNX model lowered to the graph, or a safetensors file whose tensors fill
// the layers of arch (their statistics only without it), measured on the
// input, redrawn samples times, on threads goroutines.
func runAudit(up *upload, threads int) (*audit.Report, int, apiError) {
	var lm *lower.Model
	var producer string
	var ir, opset int64
	fail := func(code int, field string, err error) (*audit.Report, int, apiError) {
		return nil, code, apiError{Error: oneLine(err.Error()), Field: field}
	}
	switch up.format {
	case "onnx":
		if up.arch != "" {
			return fail(http.StatusBadRequest, "arch", errors.New("--arch: an ONNX file has its own graph: --arch is for safetensors files"))
		}
		m, err := onnx.Decode(up.data, "")
		if err != nil {
			return fail(http.StatusBadRequest, "file", fmt.Errorf("%s: %w", up.name, err))
		}
		if lm, err = lower.Lower(m); err != nil {
			return fail(http.StatusBadRequest, "file", fmt.Errorf("%s: %w", up.name, err))
		}
		producer, ir, opset = strings.TrimSpace(m.Producer+" "+m.ProducerVersion), m.IRVersion, m.Opset
	default:
		f, err := safetensors.Decode(up.data)
		if err != nil {
			return fail(http.StatusBadRequest, "file", fmt.Errorf("%s: %w", up.name, err))
		}
		var g *arch.Graph
		if up.arch != "" {
			if g, err = arch.Parse(up.arch); err != nil {
				return fail(http.StatusBadRequest, "arch", fmt.Errorf("--arch: %w", err))
			}
		}
		if lm, err = audit.FromSafetensors(f, g); err != nil {
			return fail(http.StatusBadRequest, "arch", fmt.Errorf("%s: %w", up.name, err))
		}
	}
	opt := audit.Options{Samples: up.samples, Seed: 1, Threads: threads}
	if lm.Graph != nil {
		size := lm.Graph.Input().Size()
		name := up.input
		if name == "" {
			name = task.DefaultInput(size)
		}
		x, err := data.FixedInput(name, "", size)
		var ie *data.InputError
		switch {
		case errors.As(err, &ie):
			return fail(http.StatusBadRequest, "input", fmt.Errorf("--input: %w", err))
		case err != nil:
			return fail(http.StatusInternalServerError, "input", fmt.Errorf("input %s: %w", name, err))
		}
		opt.Input, opt.InputName, opt.Measure = x, name, true
	}
	rep, err := audit.Run(lm, up.name, up.format, opt)
	if err != nil {
		return fail(http.StatusBadRequest, "", err)
	}
	rep.Producer, rep.IRVersion, rep.Opset = producer, ir, opset
	return rep, http.StatusOK, apiError{}
}
