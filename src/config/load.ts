// Loading a topology: YAML (with node positions) → JSON Schema (ajv, every error) → semantic
// checks → the normalised model. All problems are reported together in one XlvsError;
// nothing is returned unless the whole file is valid.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import Ajv, { ValidateFunction } from 'ajv';
import { XlvsError, ErrorCodes } from '../errors';
import { repoRoot } from '../paths';
import type { Problem, Topology } from './model';
import { addAjvError, formatProblem, Locator, Problems } from './problems';
import { normalise } from './normalise';

export type { Problem, Topology } from './model';

/** An XlvsError carrying the list of problems (E_CONFIG_PARSE or E_CONFIG_INVALID). */
export interface ConfigError extends XlvsError {
  problems: Problem[];
  file: string;
}

function schemaPath(): string {
  return path.join(repoRoot(), 'config', 'topology.schema.json');
}

let validator: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
    validator = ajv.compile(JSON.parse(fs.readFileSync(schemaPath(), 'utf8')));
  }
  return validator;
}

function configError(code: typeof ErrorCodes.CONFIG_PARSE | typeof ErrorCodes.CONFIG_INVALID, file: string, problems: Problem[]): ConfigError {
  const head = code === ErrorCodes.CONFIG_PARSE ? 'is not valid YAML' : `has ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  const err = new XlvsError(code, `${file} ${head}:\n` + problems.map((p) => '  ' + formatProblem(p)).join('\n')) as ConfigError;
  err.problems = problems;
  err.file = file;
  return err;
}

/** A valid topology and the warnings about it (accepted, but worth telling the operator). */
export interface Loaded {
  topology: Topology;
  warnings: Problem[];
}

/** Parse and validate a topology given as text. `file` names it in messages. */
export function loadTopology(text: string, file = '<topology>'): Topology {
  return loadTopologyWithWarnings(text, file).topology;
}

/** loadTopology, with the warnings (e.g. a VRRPv2 secret that will be truncated). */
export function loadTopologyWithWarnings(text: string, file = '<topology>'): Loaded {
  const lc = new YAML.LineCounter();
  const docs = YAML.parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [];
  const parseProblems: Problem[] = [];
  for (const d of list) {
    for (const e of d.errors) {
      const pos = lc.linePos(e.pos[0]);
      parseProblems.push({ path: '(yaml)', message: e.message.split('\n')[0], line: pos.line, col: pos.col });
    }
  }
  if (list.length > 1 && parseProblems.length === 0) {
    const pos = lc.linePos(list[1].range[0]);
    parseProblems.push({ path: '(yaml)', message: 'more than one YAML document (---); a topology is one document', line: pos.line, col: pos.col });
  }
  if (parseProblems.length) throw configError(ErrorCodes.CONFIG_PARSE, file, parseProblems);
  const doc = list[0] ?? null;
  const problems = new Problems(new Locator(doc, lc));
  let data: unknown;
  try {
    data = doc ? doc.toJS({ maxAliasCount: 1000 }) : null;
  } catch (e) {
    throw configError(ErrorCodes.CONFIG_PARSE, file, [{ path: '(yaml)', message: (e as Error).message, line: 0, col: 0 }]);
  }
  if (data === null || data === undefined) {
    problems.add([], 'the file is empty: a topology needs at least a director');
    throw configError(ErrorCodes.CONFIG_INVALID, file, problems.list);
  }
  return validateTopologyWithWarnings(data, file, problems);
}

/** Validate an already parsed object (no positions unless `problems` carries a locator). */
export function validateTopology(data: unknown, file = '<topology>', problems = new Problems(new Locator(null, null))): Topology {
  return validateTopologyWithWarnings(data, file, problems).topology;
}

function validateTopologyWithWarnings(data: unknown, file: string, problems: Problems): Loaded {
  const validate = schemaValidator();
  if (!validate(data)) {
    for (const e of validate.errors ?? []) addAjvError(problems, e);
    throw configError(ErrorCodes.CONFIG_INVALID, file, dedupe(problems.sorted()));
  }
  const topo = normalise(data as Record<string, unknown>, problems);
  if (!topo || problems.length) throw configError(ErrorCodes.CONFIG_INVALID, file, dedupe(problems.sorted()));
  const warnings = [...problems.warnings].sort((a, b) => a.line - b.line || a.col - b.col);
  return { topology: topo, warnings };
}

export function loadTopologyFile(file: string): Topology {
  return loadTopologyFileWithWarnings(file).topology;
}

export function loadTopologyFileWithWarnings(file: string): Loaded {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new XlvsError(ErrorCodes.CONFIG_PARSE, `${file}: cannot read: ${err.code ?? err.message}`, { cause: e });
  }
  return loadTopologyWithWarnings(text, file);
}

function dedupe(list: Problem[]): Problem[] {
  const seen = new Set<string>();
  return list.filter((p) => {
    const k = `${p.path}\0${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export { checkRuntime } from './runtime';
