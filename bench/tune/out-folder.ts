// The search's output folder (bench/tune.ts --out): each trial writes OUT/t<i>/hparams.json and
// inputs.json before its edit command checks OUT/t<i>/run, so OUT itself is checked first, by the
// rules of src/pipeline/output-guard.ts: not the model folder nor inside it, a real folder (not a
// file or a link), and either new, empty, or a search's folder (its .kne-output marker, which
// the search leaves in it, so --resume goes on in its own folder; not another command's output). A folder of the user's with
// files in it is refused before anything is written there.

import { FileSystemError } from "../../src/io/errors.ts";
import { fsError } from "../../src/io/files.ts";
import {
  checkKind,
  checkOutPath,
  GuardError,
  kindOf,
  markOutput,
  OUTPUT_MARKER,
} from "../../src/pipeline/output-guard.ts";

/** The marker kind of a search's folder. */
const KIND = "tune";

async function isEmpty(dir: string): Promise<boolean> {
  for await (const _ of Deno.readDir(dir)) return false;
  return true;
}

/**
 * Checks `out` as the search's folder and makes and marks it (see the header). Throws GuardError,
 * an OS error included (a path through a file, a folder that cannot be made).
 */
export async function claimSearchFolder(out: string, model: string): Promise<void> {
  try {
    await checkOutPath(out, model);
    const info = await Deno.lstat(out).catch((e) => {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    });
    if (info && !info.isDirectory) {
      throw new GuardError(`--out ${out} is ${kindOf(info)}, not a folder; choose another --out`);
    }
    const marker = await Deno.lstat(`${out}/${OUTPUT_MARKER}`).catch(() => null);
    if (info && !marker?.isFile && !(await isEmpty(out))) {
      throw new GuardError(
        `--out ${out} is a folder this tool did not write (no ${OUTPUT_MARKER} marker in it) and ` +
          `holds files; the trials would be written among them: choose a new or empty --out`,
      );
    }
    // Another command's output (a trained model's folder carries a marker too) is not a search's.
    if (info && marker?.isFile) {
      await checkKind(out, KIND).catch((e) => {
        throw new GuardError(`--out ${(e as Error).message}`);
      });
    }
    await Deno.mkdir(out, { recursive: true });
    await markOutput(out, KIND);
  } catch (e) {
    const fe = fsError(e);
    if (fe instanceof FileSystemError) throw new GuardError(`--out ${out}: ${fe.message}`);
    throw e;
  }
}
