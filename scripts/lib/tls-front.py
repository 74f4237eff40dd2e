#!/usr/bin/env python3
"""An HTTPS front for a plain-HTTP server, for the tests and the systemd VM test.

The Colt sandbox serves plain HTTP only (a TLS stack, BoringSSL, would be compiled into every
first build); the tests that prove the daemon verifies Colt's certificate put this in front of it:

    tls-front.py --cert server.pem --key server.key --upstream 127.0.0.1:8080 [--port 0]

It accepts TLS on 127.0.0.1 (port 0 picks a free one), forwards the decrypted bytes to the
upstream and back, and prints the port it listens on as its first line of stdout. A client
that does not speak TLS, or refuses the certificate, gets its connection closed. SIGTERM stops
it, and so does its parent's end.
"""
import argparse
import asyncio
import os
import ssl
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", required=True, help="PEM certificate chain, leaf first")
    parser.add_argument("--key", required=True, help="PEM private key of the leaf")
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the plain-HTTP server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    upstream_host, _, upstream_port = args.upstream.rpartition(":")

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(upstream_host, int(upstream_port))
        except OSError as error:
            print(f"tls-front: upstream {args.upstream}: {error}", file=sys.stderr, flush=True)
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, args.host, args.port, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    # A test that dies without stopping the front must not leave it behind: its parent gone,
    # it exits.
    parent = os.getppid()
    async with server:
        while os.getppid() == parent:
            await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main())
