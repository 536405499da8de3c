// libFuzzer entry for KServe V2 gRPC tensors: the input is a serialized `inference.ModelInferRequest` (protobuf wire
// bytes, parsed by SwiftProtobuf as the server parses them). Every input of a request that parses decodes to a tensor
// whose bytes match its shape and datatype, or the request is refused with a ServingError; each decoded tensor
// encodes back as an output, typed and raw; a BYTES input reads as UTF-8 text or is refused. Nothing traps.
import Foundation
import SwiftProtobuf

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGRPCTensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard let request = try? Inference_ModelInferRequest(serializedBytes: Data(bytes: data, count: size)) else { return 0 }
    do {
        let inputs = try GRPCTensors.inputs(of: request)
        precondition(inputs.count == request.inputs.count, "an input was lost")
        for (index, input) in inputs.enumerated() {
            precondition(input.name == request.inputs[index].name, "inputs out of order")
            var elements = 1
            for dim in input.tensor.shape {
                precondition(dim >= 0, "negative dimension")
                elements *= dim   // checkedShape promised a product ≤ TensorJSON.maxElements, so this cannot overflow
            }
            precondition(elements <= TensorJSON.maxElements, "too many elements")
            precondition(input.tensor.data.count == elements * input.tensor.dataType.size, "bytes do not match shape \(input.tensor.shape)")
            for raw in [false, true] {
                let output = GRPCTensors.output(input, raw: raw)
                precondition(output.shape == input.tensor.shape.map { Int64($0) }, "output shape differs")
                _ = try output.serializedBytes() as [UInt8]
            }
        }
    } catch is ServingError {
    } catch {
        preconditionFailure("the gRPC tensor decoder threw something other than a ServingError: \(error)")
    }
    let raw = request.rawInputContents
    for (index, input) in request.inputs.enumerated() {
        do {
            _ = try GRPCTensors.text(input, raw: index < raw.count ? raw[index] : nil, rawCount: raw.count)
            precondition(input.datatype == "BYTES", "text read from a \(input.datatype) input")
        } catch is ServingError {
        } catch {
            preconditionFailure("the BYTES decoder threw something other than a ServingError: \(error)")
        }
    }
    return 0
}
