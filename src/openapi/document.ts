import { z } from 'zod';
import { SLUGS, type Slug } from '../errors/slugs.js';
import { GATEWAY_SIGNATURE_ALGS, KEY_MANAGEMENT_ALGS, SIGNATURE_ALGS } from '../jose/index.js';
import { COMMON_SLUGS, ENDPOINTS, type EndpointDescriptor } from './endpoints.js';
import { errorBody } from './response-schemas.js';

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
    const payload = errorEnvelope(slugs);
    responses[String(status)] = {
      description: slugs.map((s) => `\`${s}\`: ${SLUGS[s].message}`).join(' '),
      content:
        e.api === 'partner'
          ? { 'application/jose': { schema: SEALED_ANSWER, 'x-sealed-payload': bound(payload) }, 'application/json': { schema: payload } }
          : { 'application/json': { schema: payload } },
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
    tags: [e.api],
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

/** The OpenAPI 3.1 document of the chosen APIs, generated from ENDPOINTS. */
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
        '`x-sealed-payload` the signed answer inside the response. ' +
        `Accepted request signatures: ${SIGNATURE_ALGS.join(', ')} (the algorithm registered with the key is enforced); key management: ${KEY_MANAGEMENT_ALGS.join(', ')}. ` +
        'Admin API: plain JSON behind a staff bearer token. Absent values are null; money is a decimal string.',
    },
    tags: [
      { name: 'partner', description: 'Signed and encrypted partner endpoints (contract section 3)' },
      { name: 'admin', description: 'Staff endpoints (contract section 5)' },
    ],
    paths,
    components: { securitySchemes: { staffToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKENS: name:token' } } },
  };
}
