package audit

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/initscope/initscope/onnx"
	"github.com/initscope/initscope/onnx/lower"
)

// BenchmarkAuditModel times the audit of the ONNX model named by
// INITSCOPE_AUDIT_MODEL (bench/audit_bench.sh exports a ResNet-18 there):
// reading and lowering it, fitting every tensor and predicting, and one
// forward pass of one Gaussian input with its weights. It is skipped
// without the variable.
func BenchmarkAuditModel(b *testing.B) {
	path := os.Getenv("INITSCOPE_AUDIT_MODEL")
	if path == "" {
		b.Skip("set INITSCOPE_AUDIT_MODEL to an .onnx file (bench/audit_bench.sh does)")
	}
	read := func(b *testing.B) *lower.Model {
		m, err := onnx.Read(path)
		if err != nil {
			b.Fatal(err)
		}
		lm, err := lower.Lower(m)
		if err != nil {
			b.Fatal(err)
		}
		return lm
	}
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			read(b)
		}
	})
	lm := read(b)
	x := make([]float64, lm.Graph.Input().Size())
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x {
		x[i] = r.NormFloat64()
	}
	b.Run("fit+predict", func(b *testing.B) {
		for b.Loop() {
			if _, err := Run(lm, path, "onnx", Options{Input: x, Threads: 2}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("forward", func(b *testing.B) {
		m, err := NewModel(lm, 2)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			m.Forward(x, 1)
		}
	})
}
