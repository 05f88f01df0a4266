"""A third-party MCP client (the Python `mcp` SDK) against `spool serve`.

Usage:
  mcp_client.py stdio SPOOL_BINARY DATA_DIR TARGET_URL
  mcp_client.py http MCP_URL TARGET_URL

Lists the tools, calls list-sessions and capture-and-analyze, and prints one JSON object
with what it saw on stdout; server/tests/serve.rs checks it. Any failure exits non-zero.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


async def exercise(session: ClientSession, target_url: str) -> dict:
    await session.initialize()
    tools = await session.list_tools()
    by_name = {t.name: t for t in tools.tools}
    capture_schema = by_name["capture-and-analyze"].input_schema
    listed = await session.call_tool("list-sessions", {"limit": 5})
    if listed.is_error:
        raise SystemExit(f"list-sessions failed: {listed.content}")
    captured = await session.call_tool(
        "capture-and-analyze",
        {
            "targetUrl": target_url,
            "taskDescription": "log in to the shop and order the first item",
            "captureLevel": 3,
            "timeoutSeconds": 60,
            "waitFor": "document.title === 'done'",
        },
    )
    if captured.is_error:
        raise SystemExit(f"capture-and-analyze failed: {captured.content}")
    result = captured.structured_content or json.loads(captured.content[0].text)
    bad = await session.call_tool(
        "capture-and-analyze", {"taskDescription": "short", "targetUrl": target_url}
    )
    bad_error = json.loads(bad.content[0].text) if bad.is_error else None
    return {
        "tools": sorted(by_name),
        "taskDescription": capture_schema["properties"]["taskDescription"],
        "listTotal": listed.structured_content["total"],
        "sessionId": result["sessionId"],
        "recommendedModality": result["recommendedModality"],
        "badInputError": bad_error,
    }


async def main() -> None:
    mode = sys.argv[1]
    if mode == "stdio":
        binary, data, target = sys.argv[2], sys.argv[3], sys.argv[4]
        params = StdioServerParameters(
            command=binary, args=["--data", data, "serve", "--stdio"]
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await exercise(session, target)
    elif mode == "http":
        url, target = sys.argv[2], sys.argv[3]
        async with streamable_http_client(url) as (read, write):
            async with ClientSession(read, write) as session:
                out = await exercise(session, target)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
