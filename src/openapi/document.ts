import { z } from 'zod';
import { SLUGS, type Slug } from '../errors/slugs.js';
import { GATEWAY_SIGNATURE_ALGS, KEY_MANAGEMENT_ALGS, SIGNATURE_ALGS } from '../jose/index.js';
import { COMMON_SLUGS, ENDPOINTS, type EndpointDescriptor } from './endpoints.js';
import { errorBody } from './response-schemas.js';
import { WEBHOOK_EVENTS, sealedEventSchema, type WebhookEventDescriptor } from './webhook-events.js';

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12, without its own `$schema` (the document names the dialect). */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** The claims a partner signs (contract section 2); `body` is the endpoint's payload. */
function claimsSchema(body: JsonSchema, idempotent: boolean): JsonSchema {
  return {
    type: 'object',
    required: ['iss', 'aud', 'iat', 'jti', 'htm', 'htu', 'body', ...(idempotent ? ['idk'] : [])],
    properties: {
      iss: { type: 'string', description: 'the project id (prj_…)' },
      aud: { description: 'GATEWAY_AUDIENCE (default "card-gateway"), or an array holding it', oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
      iat: { type: 'number', description: 'seconds since the epoch; within REQUEST_MAX_AGE_S of the gateway clock' },
      jti: { type: 'string', minLength: 1, description: 'unique per request; a repeat is replay_detected' },
      htm: { const: 'POST' },
      htu: { type: 'string', description: "the endpoint's path, or an absolute URL with that path" },
      idk: { type: 'string', description: 'equal to the Idempotency-Key header' },
      body,
    },
  };
}

function errorsFor(e: EndpointDescriptor): Map<number, Slug[]> {
  const byStatus = new Map<number, Slug[]>();
  for (const slug of [...new Set([...COMMON_SLUGS[e.api], ...e.slugs])]) {
    const status = SLUGS[slug].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), slug]);
  }
  return byStatus;
}

/** `{error}` with the slug narrowed to the ones of this status. */
function errorEnvelope(slugs: Slug[]): JsonSchema {
  const schema = jsonSchema(errorBody, 'output');
  (schema.properties as Record<string, JsonSchema>).slug = { enum: slugs };
  return { type: 'object', required: ['error'], additionalProperties: false, properties: { error: schema } };
}

const dataEnvelope = (data: JsonSchema): JsonSchema => ({ type: 'object', required: ['data'], additionalProperties: false, properties: { data } });

/** What a sealed partner answer answers, signed with it (docs/secure-channel.md, the answer binding). */
const ANSWER_BINDING: Record<string, JsonSchema> = {
  iss: { type: 'string', description: 'the gateway (GATEWAY_AUDIENCE)' },
  aud: { type: 'string', description: 'the project answered' },
  iat: { type: 'integer', description: 'seconds since the epoch, when the answer was sealed' },
  req_jti: { type: ['string', 'null'], description: "the request's jti" },
  req_htu: { type: ['string', 'null'], description: "the request's htu as it sent it" },
  req_sha256: { type: 'string', description: 'base64url SHA-256 of the request body (the JWE) as received' },
  status: { type: 'integer', description: 'the HTTP status of this answer' },
  replayed: { type: 'boolean', description: 'true for an idempotent replay' },
};

/** The payload inside a sealed answer: the envelope plus its binding. */
function bound(envelope: JsonSchema): JsonSchema {
  return {
    ...envelope,
    required: [...(envelope.required as string[]), ...Object.keys(ANSWER_BINDING)],
    properties: { ...(envelope.properties as Record<string, JsonSchema>), ...ANSWER_BINDING },
  };
}

const SEALED = {
  type: 'string',
  contentMediaType: 'application/jose',
  description: 'Compact JWE (to a gateway encryption key from /.well-known/jwks.json, `kid` required) around a compact JWS signed with a registered key of the project.',
};
const SEALED_ANSWER = {
  type: 'string',
  contentMediaType: 'application/jose',
  description: `Compact JWE to the project's encryption key around a JWS by the gateway (${GATEWAY_SIGNATURE_ALGS.join(' or ')}; keys at /.well-known/jwks.json). Refusals before the sender is known come as plain application/json.`,
};

/**
 * Refusals made before the sender is authenticated (docs/secure-channel.md, "Order of checks"):
 * plain application/json, never sealed. Those that can come either way (the per-address budget or
 * the project's, the decryption slots or an outage later) are in PLAIN_OR_SEALED.
 */
const PLAIN_ONLY = new Set<Slug>([
  'invalid_encryption',
  'unknown_key_id',
  'unsupported_algorithm',
  'invalid_signature',
  'unknown_project',
  'project_disabled',
  'payload_too_large',
  'unsupported_media_type',
]);
const PLAIN_OR_SEALED = new Set<Slug>(['rate_limited', 'service_unavailable', 'internal_error']);

/** A partner error status's bodies: sealed for the refusals after authentication, plain JSON for those before. */
function partnerErrorContent(slugs: Slug[]): Record<string, JsonSchema> {
  const sealed = slugs.filter((s) => !PLAIN_ONLY.has(s));
  const plain = slugs.filter((s) => PLAIN_ONLY.has(s) || PLAIN_OR_SEALED.has(s));
  return {
    ...(sealed.length > 0 && { 'application/jose': { schema: SEALED_ANSWER, 'x-sealed-payload': bound(errorEnvelope(sealed)) } }),
    ...(plain.length > 0 && { 'application/json': { schema: errorEnvelope(plain) } }),
  };
}

function operation(e: EndpointDescriptor): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, data] of Object.entries(e.responses)) {
    const payload = dataEnvelope(jsonSchema(data, 'output'));
    responses[status] = {
      description: 'Success',
      content: e.api === 'partner' ? { 'application/jose': { schema: SEALED_ANSWER, 'x-sealed-payload': bound(payload) } } : { 'application/json': { schema: payload } },
    };
  }
  for (const [status, slugs] of [...errorsFor(e)].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = {
      description: slugs.map((s) => `\`${s}\`: ${SLUGS[s].message}`).join(' '),
      content: e.api === 'partner' ? partnerErrorContent(slugs) : { 'application/json': { schema: errorEnvelope(slugs) } },
    };
  }
  const parameters: JsonSchema[] = [];
  for (const name of [...e.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)) parameters.push({ name, in: 'path', required: true, schema: { type: 'string' } });
  if (e.query) {
    const q = jsonSchema(e.query, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema });
  }
  for (const h of e.headers ?? []) parameters.push({ name: h.name, in: 'header', required: h.required, description: h.description, schema: { type: 'string' } });

  const op: JsonSchema = {
    operationId: `${e.method}${e.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: e.summary,
    tags: [e.sandbox ? 'sandbox' : e.api],
    ...(parameters.length > 0 && { parameters }),
    responses,
  };
  if (e.api === 'partner') {
    const idempotent = (e.headers ?? []).some((h) => h.name === 'Idempotency-Key' && h.required);
    op.requestBody = { required: true, content: { 'application/jose': { schema: SEALED, 'x-sealed-claims': claimsSchema(jsonSchema(e.body ?? z.object({}), 'input'), idempotent) } } };
  } else {
    op.security = [{ staffToken: [] }];
    // A retire's and a retry's body is optional (every field is).
    if (e.body) op.requestBody = { required: e.method !== 'post' || !/\/(retire|retry)$/.test(e.path), content: { 'application/json': { schema: jsonSchema(e.body, 'input') } } };
  }
  return op;
}

const SEALED_EVENT = {
  type: 'string',
  contentMediaType: 'application/jose',
  description: `Compact JWE to the project's newest active encryption key around a JWS by the gateway (${GATEWAY_SIGNATURE_ALGS.join(' or ')}; keys at /.well-known/jwks.json), sealed anew at each delivery attempt. \`x-sealed-payload\` is what is signed inside.`,
};

/** One event type as an OpenAPI 3.1 webhook: the POST the gateway makes to the project's endpoint. */
function webhook(e: WebhookEventDescriptor): JsonSchema {
  const header = (name: string, description: string) => ({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  return {
    post: {
      operationId: `webhook${e.type.replace(/(^|\.)(\w)/g, (_m, _dot: string, c: string) => c.toUpperCase())}`,
      summary: e.summary,
      tags: ['webhooks'],
      parameters: [
        header('Webhook-Id', 'the event id (outside the seal: check it equals event.id)'),
        header('Webhook-Type', `"${e.type}" (outside the seal: check it equals event.type)`),
        header('Webhook-Attempt', '1, 2, ... (a retry or redelivery of the same event id)'),
      ],
      requestBody: { required: true, content: { 'application/jose': { schema: SEALED_EVENT, 'x-sealed-payload': jsonSchema(sealedEventSchema(e), 'output') } } },
      responses: {
        '2XX': { description: 'Delivered: any 2xx within WEBHOOK_TIMEOUT_MS (the body is not read).' },
        default: { description: 'Anything else, no answer in time or a dropped connection: retried with backoff for WEBHOOK_RETRY_FOR_S.' },
      },
    },
  };
}

/** The OpenAPI 3.1 document of the chosen APIs, generated from ENDPOINTS (and, with the partner API, WEBHOOK_EVENTS). */
export function openApiDocument(apis: EndpointDescriptor['api'][] = ['partner', 'admin'], endpoints: EndpointDescriptor[] = ENDPOINTS): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const e of endpoints.filter((x) => apis.includes(x.api))) (paths[e.path] ??= {})[e.method] = operation(e);
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Card gateway',
      version: '1',
      description:
        'Partner API: every request body is a sealed envelope (application/jose); `x-sealed-claims` describes the signed claims inside, ' +
        '`x-sealed-payload` the signed answer inside the response. Refusals before the sender is authenticated (401 invalid_encryption, unknown_key_id, ' +
        'unsupported_algorithm, invalid_signature, unknown_project; 403; 413; 415; and 429/503 before decryption) are plain application/json. ' +
        'Webhook events (the `webhooks` section) are sealed like answers. ' +
        `Accepted request signatures: ${SIGNATURE_ALGS.join(', ')} (the algorithm registered with the key is enforced); key management: ${KEY_MANAGEMENT_ALGS.join(', ')}. ` +
        'Admin API: plain JSON behind a staff bearer token. Absent values are null; money is a decimal string.',
    },
    tags: [
      { name: 'partner', description: 'Signed and encrypted partner endpoints (contract section 3)' },
      { name: 'sandbox', description: 'Partner endpoints that drive the provider simulator; mounted only when SANDBOX_SIMULATOR_ENABLED (outside production by default)' },
      { name: 'webhooks', description: "Events the gateway POSTs to the project's endpoint, sealed like answers (docs/partner-api.md, \"Webhooks\")" },
      { name: 'admin', description: 'Staff endpoints (contract section 5)' },
    ],
    paths,
    ...(apis.includes('partner') && { webhooks: Object.fromEntries(WEBHOOK_EVENTS.map((e) => [e.type, webhook(e)])) }),
    components: { securitySchemes: { staffToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKENS: name:token' } } },
  };
}
