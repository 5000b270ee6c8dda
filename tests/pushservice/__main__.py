"""`python -m tests.pushservice [--host 127.0.0.1] [--port 8090]`: the local push service as a process.

Point Parley at it with PARLEY_PUSH_ALLOWED_HOSTS=127.0.0.1 and PARLEY_PUSH_ALLOW_HTTP=true (never in
production). Control API: see tests/pushservice/control.py.
"""

import argparse

import uvicorn

from tests.pushservice import PushService


def main() -> None:
    parser = argparse.ArgumentParser(description="Local RFC 8030 push service for tests and demos")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    service = PushService()
    service.origin = f"http://{args.host}:{args.port}"
    print(f"push service listening on {service.origin}", flush=True)
    uvicorn.run(service, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="off",
                timeout_keep_alive=30)


if __name__ == "__main__":
    main()
