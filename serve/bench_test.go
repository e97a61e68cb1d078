package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkDesignRoundTrip measures a design change as the page makes
// it, on a 1000-layer net: an HTTP request to /api/predict over a local
// connection, the spec parsed, the theory run, the answer encoded as JSON
// and read back. It reports the median and the 95th percentile of the
// round trips besides the mean (ns/op); the target is a median under 50 ms.
func BenchmarkDesignRoundTrip(b *testing.B) {
	for _, bc := range []struct {
		name string
		d    Design
	}{
		{"fc1000", Design{Arch: "fc:784-100x1000-10", Init: "he-normal"}},
		{"residual1000", Design{Arch: "net:784,dense100,resdense100x1000:eta=0.9^l:end=linear,dense10", Init: "he-normal"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			_, ts := newTestServer(b, testConfig())
			body, _ := json.Marshal(bc.d)
			roundTrip := func() int {
				resp, err := http.Post(ts.URL+"/api/predict", "application/json", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
				return int(n)
			}
			size := roundTrip() // reads the input once
			var times []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				roundTrip()
				times = append(times, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "ms-p95")
			b.ReportMetric(float64(size)/1024, "KiB-answer")
		})
	}
}
