"""protoc-gen-grpc_python: grpcio-tools' gRPC Python generator as a protoc plugin.

grpcio-tools ships its generator only inside its own protoc (`--grpc_python_out`), and buf runs
protoc's built-in generators only for the languages protoc itself knows. This plugin takes
buf's CodeGeneratorRequest, hands the request's descriptors to grpcio-tools' protoc, and answers
the files it wrote, so `buf generate` (buf.gen.yaml) drives the Python kit like every other one.
"""

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> None:
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse(
        supported_features=plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL)
    with tempfile.TemporaryDirectory(prefix="protoc-gen-grpc_python-") as work:
        descriptors = os.path.join(work, "descriptors.pb")
        with open(descriptors, "wb") as f:
            f.write(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = os.path.join(work, "out")
        os.mkdir(out)
        options = f"{request.parameter}:" if request.parameter else ""
        args = ["protoc", f"--descriptor_set_in={descriptors}",
                f"--grpc_python_out={options}{out}", *request.file_to_generate]
        if protoc.main(args) != 0:
            response.error = f"grpcio-tools' protoc failed on {list(request.file_to_generate)}"
        else:
            for root, _, names in sorted(os.walk(out)):
                for name in sorted(names):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as f:
                        response.file.add(name=os.path.relpath(path, out), content=f.read())
    sys.stdout.buffer.write(response.SerializeToString())


if __name__ == "__main__":
    main()
