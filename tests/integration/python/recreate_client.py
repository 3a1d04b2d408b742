#!/usr/bin/env python3
"""A controller's agent written in Python, as the README shows it: the inplaced.v1 stubs generated
from the project's .proto files (Debian's protoc and grpc_python_plugin) into OUT_DIR at run time
(never committed), then, with Debian's python3-grpcio, over the daemon's TCP listener with mTLS,
one recreate request created and polled until it is completed.

Exit 0 and "recreate succeeded ..." on stdout when every container is SUCCEEDED; exit 1 with the
reason otherwise.

Usage: recreate_client.py --proto-root API_DIR --out OUT_DIR --address HOST:PORT --ca CA.crt
         --cert CLIENT.crt --key CLIENT.key --namespace NS --name NAME --pod POD --container C...
"""
import argparse
import os
import subprocess
import sys
import time


def generate_stubs(protoc, plugin, proto_root, out_dir):
    # Debian's protoc (3.21) with the gRPC Python plugin of protobuf-compiler-grpc: the protoc that
    # python3-grpc-tools bundles (3.5.1) predates proto3 `optional`, which the protos use.
    os.makedirs(out_dir, exist_ok=True)
    protos = [os.path.join(proto_root, "inplaced", "v1", name)
              for name in ("recreate.proto", "nodeimage.proto")]
    subprocess.run([protoc, "-I" + proto_root, "--python_out=" + out_dir,
                    "--grpc_python_out=" + out_dir, "--plugin=protoc-gen-grpc_python=" + plugin]
                   + protos, check=True)
    sys.path.insert(0, out_dir)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protoc", default="/usr/bin/protoc")
    parser.add_argument("--grpc-python-plugin", default="/usr/bin/grpc_python_plugin")
    parser.add_argument("--proto-root", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--pod", required=True)
    parser.add_argument("--container", action="append", required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    generate_stubs(args.protoc, args.grpc_python_plugin, args.proto_root, args.out)
    import grpc
    from inplaced.v1 import recreate_pb2, recreate_pb2_grpc

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ca), private_key=read(args.key),
        certificate_chain=read(args.cert))
    with grpc.secure_channel(args.address, credentials) as channel:
        stub = recreate_pb2_grpc.RecreateServiceStub(channel)
        request = recreate_pb2.CreateRecreateRequestRequest(
            namespace=args.namespace, name=args.name,
            spec=recreate_pb2.RecreateSpec(
                pod_name=args.pod,
                containers=[recreate_pb2.RecreateContainer(name=c) for c in args.container]))
        created = stub.CreateRecreateRequest(request, timeout=30)
        print("created %s/%s phase=%s" % (
            args.namespace, args.name,
            recreate_pb2.RecreatePhase.Name(created.recreate_request.status.phase)), flush=True)

        # Poll as a controller would; the daemon also offers WatchRecreateRequests.
        deadline = time.monotonic() + args.timeout
        while True:
            got = stub.GetRecreateRequest(recreate_pb2.GetRecreateRequestRequest(
                namespace=args.namespace, name=args.name), timeout=30).recreate_request
            if got.status.phase == recreate_pb2.RECREATE_PHASE_COMPLETED:
                break
            if time.monotonic() > deadline:
                sys.exit("not completed within %ss: %s" % (args.timeout, got))
            time.sleep(0.1)

    states = {s.name: recreate_pb2.ContainerRecreatePhase.Name(s.phase)
              for s in got.status.container_states}
    if any(phase != "CONTAINER_RECREATE_PHASE_SUCCEEDED" for phase in states.values()):
        sys.exit("completed, but not every container succeeded: %s" % states)
    print("recreate succeeded %s/%s containers=%s" % (
        args.namespace, args.name, ",".join(sorted(states))), flush=True)


if __name__ == "__main__":
    main()
