// Commands in a topology are argv lists run by spawn, never a shell. An empty program name
// cannot run (spawn fails every time the event fires), and a NUL byte cannot be passed in an
// argument at all (Node's spawn throws ERR_INVALID_ARG_VALUE): both are rejected here.
import type { PathSeg, Problems } from './problems';

/** The argv at `path` (already a list of strings by the schema), problems added; null when absent. */
export function argvAt(v: unknown, path: readonly PathSeg[], p: Problems): string[] | null {
  if (!Array.isArray(v)) return null;
  const list = v.map(String);
  if (list.length > 0 && list[0].trim() === '') p.add([...path, 0], 'the program (argv[0]) is empty');
  list.forEach((a, i) => {
    const nul = a.indexOf('\0');
    if (nul >= 0) p.add([...path, i], `holds a NUL byte at byte ${Buffer.byteLength(a.slice(0, nul))}: a command argument cannot carry one`);
  });
  return list;
}
