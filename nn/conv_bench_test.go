package nn

import "testing"

// BenchmarkConv times the training steps of the convolutional workloads
// of BenchmarkStepConv and BenchmarkStepResConv with their convolutions
// on oneDNN and on im2col + GEMM, whatever INITSCOPE_CONV selects.
func BenchmarkConv(b *testing.B) {
	for _, w := range []struct{ name, spec string }{{"conv", convNet}, {"resconv", resConv}} {
		for _, backend := range []string{"onednn", "im2col"} {
			b.Run(w.name+"/"+backend, func(b *testing.B) {
				if backend == "onednn" {
					requireOneDNN(b)
				}
				net := model[float32](w.spec)
				setConvBackend(b, net, backend == "onednn")
				benchmarkModel(b, net, sgd, 64)
			})
		}
	}
}
