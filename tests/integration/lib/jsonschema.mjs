// A small JSON Schema (draft 2020-12) validator: the keywords that
// docs/events.schema.json and docs/amqp-in.schema.json use, and no others
// (an unknown keyword throws, so a schema cannot silently ask for a check
// this file does not make).  No npm package: the tests need nothing fetched.
//
//   const errors = validate(schema, value);   // [] when valid
//
// Keywords: $schema, $id, $defs, $ref ("#/$defs/<name>"), title,
// description, $comment, type, enum, const, properties, required,
// additionalProperties, items, minItems, maxItems, minLength, maxLength,
// pattern, minimum, maximum, propertyNames, oneOf, anyOf, allOf.

const ANNOTATIONS = new Set(['$schema', '$id', '$defs', 'title', 'description', '$comment', 'examples']);

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want, v) {
  const t = typeOf(v);
  return want === t || (want === 'number' && t === 'integer');
}

function resolve(root, ref) {
  const m = /^#\/\$defs\/([^/]+)$/.exec(ref);
  if (!m || !root.$defs || !root.$defs[m[1]]) throw new Error(`unresolvable $ref ${ref}`);
  return root.$defs[m[1]];
}

function check(root, s, v, at, errs) {
  if (s === true) return;
  if (s === false) { errs.push(`${at}: not allowed`); return; }
  for (const [k, arg] of Object.entries(s)) {
    if (ANNOTATIONS.has(k)) continue;
    switch (k) {
      case '$ref': check(root, resolve(root, arg), v, at, errs); break;
      case 'type': {
        const types = Array.isArray(arg) ? arg : [arg];
        if (!types.some((t) => typeMatches(t, v))) errs.push(`${at}: ${typeOf(v)}, want ${types.join('|')}`);
        break;
      }
      case 'enum': if (!arg.some((x) => JSON.stringify(x) === JSON.stringify(v))) errs.push(`${at}: ${JSON.stringify(v)} not in ${JSON.stringify(arg)}`); break;
      case 'const': if (JSON.stringify(arg) !== JSON.stringify(v)) errs.push(`${at}: ${JSON.stringify(v)}, want ${JSON.stringify(arg)}`); break;
      case 'properties':
        if (typeOf(v) === 'object') {
          for (const [p, ps] of Object.entries(arg)) if (p in v) check(root, ps, v[p], `${at}.${p}`, errs);
        }
        break;
      case 'required':
        if (typeOf(v) === 'object') for (const p of arg) if (!(p in v)) errs.push(`${at}: missing ${p}`);
        break;
      case 'additionalProperties':
        if (typeOf(v) === 'object') {
          const known = new Set(Object.keys(s.properties || {}));
          for (const p of Object.keys(v)) if (!known.has(p)) check(root, arg, v[p], `${at}.${p}`, errs);
        }
        break;
      case 'propertyNames':
        if (typeOf(v) === 'object') for (const p of Object.keys(v)) check(root, arg, p, `${at}{${p}}`, errs);
        break;
      case 'items': if (Array.isArray(v)) v.forEach((x, i) => check(root, arg, x, `${at}[${i}]`, errs)); break;
      case 'minItems': if (Array.isArray(v) && v.length < arg) errs.push(`${at}: fewer than ${arg} items`); break;
      case 'maxItems': if (Array.isArray(v) && v.length > arg) errs.push(`${at}: more than ${arg} items`); break;
      case 'minLength': if (typeof v === 'string' && [...v].length < arg) errs.push(`${at}: shorter than ${arg}`); break;
      case 'maxLength': if (typeof v === 'string' && [...v].length > arg) errs.push(`${at}: longer than ${arg}`); break;
      case 'pattern': if (typeof v === 'string' && !new RegExp(arg, 'u').test(v)) errs.push(`${at}: ${JSON.stringify(v)} does not match /${arg}/`); break;
      case 'minimum': if (typeof v === 'number' && v < arg) errs.push(`${at}: below ${arg}`); break;
      case 'maximum': if (typeof v === 'number' && v > arg) errs.push(`${at}: above ${arg}`); break;
      case 'allOf': for (const sub of arg) check(root, sub, v, at, errs); break;
      case 'anyOf': case 'oneOf': {
        const results = arg.map((sub) => { const e = []; check(root, sub, v, at, e); return e; });
        const ok = results.filter((e) => e.length === 0).length;
        if (k === 'anyOf' ? ok === 0 : ok !== 1) {
          errs.push(`${at}: ${k} matched ${ok} (${results.map((e) => e[0] || 'ok').join('; ')})`);
        }
        break;
      }
      default: throw new Error(`jsonschema.mjs does not implement keyword ${k}`);
    }
  }
}

export function validate(schema, value) {
  const errs = [];
  check(schema, schema, value, '$', errs);
  return errs;
}
