import { Router } from 'express';
import { html } from '../console/html.js';
import { CONSOLE_CSS } from '../console/console-assets.js';
import type { EndpointDescriptor } from './endpoints.js';
import { openApiDocument } from './document.js';

type Operation = { summary?: string; parameters?: { name: string; in: string; required: boolean }[]; requestBody?: { content: Record<string, Record<string, unknown>> }; responses: Record<string, { description: string; content?: Record<string, Record<string, unknown>> }> };

/**
 * `GET /openapi.json` (the document) and `GET /openapi` (the same, as a page a person reads: no
 * script, no external assets). The admin listener serves both APIs; the partner port the partner part.
 */
export function openApiRoutes(apis: EndpointDescriptor['api'][]): Router {
  const doc = openApiDocument(apis);
  const body = JSON.stringify(doc, null, 2);
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/json').send(body);
  });
  router.get('/openapi', (_req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const paths = doc.paths as Record<string, Record<string, Operation>>;
    const show = (v: unknown) => html`<pre><code>${JSON.stringify(v, null, 2)}</code></pre>`;
    const ops = Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(
        ([method, op]) => html`<section><h2 id="${method}-${path}"><code>${method.toUpperCase()} ${path}</code> ${op.summary}</h2>
        ${op.parameters ? html`<p>Parameters: ${op.parameters.map((p) => html`<code>${p.name}</code> (${p.in}${p.required ? ', required' : ''}) `)}</p>` : ''}
        ${op.requestBody ? html`<h3>Request</h3>${Object.entries(op.requestBody.content).map(([type, media]) => html`<p><code>${type}</code></p>${show(media['x-sealed-claims'] ?? media.schema)}`)}` : ''}
        <h3>Answers</h3>${Object.entries(op.responses).map(([status, r]) => html`<details><summary><strong>${status}</strong> ${r.description}</summary>${Object.entries(r.content ?? {}).map(([type, media]) => html`<p><code>${type}</code></p>${show(media['x-sealed-payload'] ?? media.schema)}`)}</details>`)}
        </section>`,
      ),
    );
    const webhooks = Object.entries((doc.webhooks ?? {}) as Record<string, { post: Operation }>).map(
      ([type, { post }]) => html`<section><h2 id="webhook-${type}"><code>webhook ${type}</code> ${post.summary}</h2>
        ${post.requestBody ? Object.entries(post.requestBody.content).map(([media, body]) => html`<p><code>${media}</code>, signed inside:</p>${show(body['x-sealed-payload'] ?? body.schema)}`) : ''}
        </section>`,
    );
    const info = doc.info as { title: string; description: string };
    res.type('html').send(
      html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${info.title} · OpenAPI</title><style>${CONSOLE_CSS} pre { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow: auto; max-height: 28rem; } section { margin-bottom: 1.6rem; }</style></head>
      <body><header><span class="brand">${info.title} · API reference</span><a href="/openapi.json">openapi.json</a></header><main><p>${info.description}</p>${ops}${webhooks.length > 0 ? html`<h2>Webhooks</h2>${webhooks}` : ''}</main></body></html>`.toString(),
    );
  });
  return router;
}
