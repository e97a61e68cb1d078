// Package onnx reads ONNX model files (.onnx) and serialized tensors (.pb
// files holding one TensorProto, as ONNX's test data does) into plain Go
// values: a model's IR version and opsets, its graph's nodes with their
// attributes, its inputs and outputs with their element types and shapes,
// and its initializers with their values in float64 or int64. It lowers
// nothing to a network and computes nothing; callers never see the
// protobuf types of package onnxpb.
//
// It reads IR versions 3 to 9 whose default domain ("" or "ai.onnx") has
// an opset from 6 to 18, and refuses any other. Tensors may be float32,
// float64, float16 or bfloat16, converted exactly to float64, or int8,
// uint8, int16, uint16, int32, uint32, int64 or bool, as int64. Their
// values may lie in raw_data, in the typed field ONNX assigns to their type
// (float_data, double_data, int32_data, int64_data, uint64_data), or in
// external data: a range of a regular file named by a path relative to the
// model's folder, which must stay inside that folder once symbolic links
// are resolved. It refuses other element types (strings, complex numbers,
// uint64, the float8 types), segmented and sparse tensors, values held in a
// field their type does not use or in two fields at once, a number of
// values other than the product of the dims, and tensors larger than the
// memory the process may use (package limits). Attributes holding graphs
// (the bodies of If, Loop and Scan), sparse tensors, type protos or lists
// of tensors or graphs keep their kind but no value.
//
// Errors are one line naming the file, the tensor, node or attribute at
// fault, and what would be valid. A truncated or corrupted file is an
// error, never a panic.
package onnx
