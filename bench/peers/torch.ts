// PyTorch CPU as a bench's peer in the same run: finds a python3 that imports torch (Debian's
// python3-torch; CI does not install it) and runs one peer script of this folder with its input
// as JSON on argv[1], reading the JSON line it prints last. Without torch, or when the script
// fails, the bench gets a note saying why instead of a figure.

/** Debian's own python3.11 first: the python3 first on PATH (pyenv) may lack torch. */
export const TORCH_PYTHONS = ["/usr/bin/python3.11", "/usr/bin/python3", "python3"];

/** Why a bench has no PyTorch figure when no interpreter imports torch. */
export const NO_TORCH_NOTE =
  'PyTorch: not measured (no python3 here imports torch: `python3 -c "import torch"` fails; ' +
  "Debian's python3-torch provides it)";

/** The first of `candidates` that imports torch, or null. */
export async function torchPython(candidates = TORCH_PYTHONS): Promise<string | null> {
  for (const py of candidates) {
    try {
      const r = await new Deno.Command(py, {
        args: ["-c", "import torch"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (r.success) return py;
    } catch {
      // Not installed: try the next one.
    }
  }
  return null;
}

export type PeerResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; note: string };

/**
 * Runs `script` (a file name in bench/peers/) under `py` with `input` (which carries the thread
 * count the peer sets) as JSON; OpenMP and OpenBLAS get the same count. OpenMP threads wait
 * passively: on the shared 2-core machine, beside other jobs, its default spin-waiting made a
 * 2-thread KNE edit of a tiny model 2.5 s instead of 25 ms, and a GPT-2-small step twice as slow.
 */
export async function runTorchPeer(
  py: string | null,
  script: string,
  input: { threads: number } & Record<string, unknown>,
): Promise<PeerResult> {
  if (!py) return { ok: false, note: NO_TORCH_NOTE };
  const path = new URL(`./${script}`, import.meta.url).pathname;
  let r: Deno.CommandOutput;
  try {
    r = await new Deno.Command(py, {
      args: [path, JSON.stringify(input)],
      env: {
        OMP_NUM_THREADS: String(input.threads),
        OPENBLAS_NUM_THREADS: String(input.threads),
        OMP_WAIT_POLICY: "PASSIVE",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    return { ok: false, note: `PyTorch: ${script} did not start: ${(e as Error).message}` };
  }
  const text = new TextDecoder().decode(r.stdout).trim().split("\n").at(-1) ?? "";
  if (r.success && text.startsWith("{")) return { ok: true, value: JSON.parse(text) };
  const why = new TextDecoder().decode(r.stderr).trim().slice(-300) || `exit code ${r.code}`;
  return { ok: false, note: `PyTorch: ${script} failed: ${why}` };
}
