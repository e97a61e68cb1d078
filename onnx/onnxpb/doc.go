// Package onnxpb is the Go code that protoc generates from ONNX's own
// onnx.proto: the protobuf messages of an ONNX model file (ModelProto,
// GraphProto, NodeProto, TensorProto, ...). Package onnx decodes files with
// it and hides it from its callers.
//
// onnx.proto is ONNX 1.12.0 as Debian ships it (libonnx-dev 1.12.0-2,
// /usr/include/onnx/onnx.proto), copied unmodified, under its Apache-2.0
// license; its Go package is given to protoc-gen-go with an M option.
// onnx.pb.go was generated with protoc 3.21.12 (Debian protobuf-compiler)
// and protoc-gen-go v1.28.1 (Debian protoc-gen-go 1.28.1-3), and is
// compiled against google.golang.org/protobuf v1.36.12.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/initscope/initscope/onnx/onnxpb onnx.proto
