"""``GET /docs``: a self-contained API reference rendered from ``/openapi.json``.

No CDN: a self-hosted engine must document itself on a machine without internet access.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tastemaker API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
main{max-width:1000px;margin:0 auto;padding:16px 32px}
.op{background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:12px 0;padding:12px 16px}
.m{display:inline-block;min-width:64px;font-weight:700;text-transform:uppercase}
.get{color:#0b7a3e}.post{color:#0a58ca}.put{color:#a05a00}.patch{color:#7b3fb5}.delete{color:#b42318}
code{background:#eef0f3;padding:1px 5px;border-radius:4px}table{border-collapse:collapse;margin:6px 0}
td,th{border-bottom:1px solid #eee;padding:3px 10px 3px 0;text-align:left;vertical-align:top}
.scope{float:right;font-size:12px;background:#eef0f3;border-radius:10px;padding:1px 8px}
pre{background:#1d232a;color:#e6e6e6;padding:10px;border-radius:6px;overflow:auto}
</style></head><body>
<header><h1>Tastemaker API <span id="v"></span></h1>Authorization: <code style="color:#1d232a">Bearer &lt;api key&gt;</code>
&middot; errors are <code style="color:#1d232a">application/problem+json</code> &middot; <a style="color:#9cf" href="/openapi.json">openapi.json</a></header>
<main id="ops">Loading&hellip;</main>
<script>
fetch('/openapi.json').then(r => r.json()).then(spec => {
  document.getElementById('v').textContent = spec.info.version;
  const esc = s => String(s ?? '').replace(/[&<>]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters') continue;
      const params = [...(item.parameters || []), ...(op.parameters || [])];
      const scope = (op.description || '').match(/`(\\w+)` scope/);
      let html = `<div class="op"><span class="scope">${scope ? 'scope: ' + scope[1] : 'public'}</span>`
        + `<span class="m ${method}">${method}</span> <code>${esc(path)}</code><div>${esc(op.summary)}</div>`;
      if (params.length) html += '<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>'
        + params.map(p => `<tr><td><code>${esc(p.name)}</code>${p.required ? ' *' : ''}</td><td>${p.in}</td>`
          + `<td>${esc(p.schema && p.schema.type)}</td><td>${esc(p.description)}</td></tr>`).join('') + '</table>';
      if (op.requestBody) html += '<div>body: <code>' + esc(JSON.stringify(Object.values(op.requestBody.content)[0].schema)) + '</code></div>';
      html += '<div>responses: ' + Object.entries(op.responses).map(([c, r]) => `<code>${c}</code> ${esc(r.description || '')}`).join(' &middot; ') + '</div></div>';
      out.push(html);
    }
  }
  out.push('<h2>Schemas</h2>' + Object.entries(spec.components.schemas).map(([n, s]) =>
    `<h3 id="${n}">${n}</h3><pre>${esc(JSON.stringify(s, null, 2))}</pre>`).join(''));
  document.getElementById('ops').innerHTML = out.join('');
});
</script></body></html>"""


async def docs(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)
