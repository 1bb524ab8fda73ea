// The models against the independent torch oracle (tests/oracle/make_fixtures.py): logits, loss
// and the gradient of every parameter of the tiny fixtures (ORACLE_FIXTURES: GPT-2 with either
// GELU, two Llamas with BF16 weights, GQA and rotary, tiny-llama3 with Llama 3.x's rotary
// scaling, a Qwen3 with q/k head norms and a wider head, two GPT-NeoX with partial rotary and
// either residual, a GPT-J with interleaved partial rotary and a biased head), loaded from Hugging
// Face layout, on both backends, to 1e-4 relative.

import { backward } from "../../src/autograd/variable.ts";
import { openSafetensors } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/pipeline/load.ts";
import { lmLoss } from "../../src/model/loss.ts";
import { tidyAsync } from "../../src/tensor/tensor.ts";
import { disposeModel } from "../../src/model/build.ts";
import { testBackends } from "../helpers/backends.ts";
import { ORACLE_FIXTURES } from "../helpers/fixture_model.ts";
import { assertClose } from "../helpers/reference.ts";

for (const name of ORACLE_FIXTURES) {
  const dir = new URL(`../fixtures/${name}`, import.meta.url).pathname;
  testBackends(`${name} logits, loss and every gradient match the torch oracle`, async (be) => {
    const expected = await openSafetensors(`${dir}/expected.safetensors`);
    const ids = Array.from(await expected.read("input_ids"));
    // f32 weights: the f16 path is checked against this one in tests/model/f16_test.ts.
    const { model } = await loadModel(dir, be, { dtype: "f32" });
    try {
      const targets = ids.map((_, i) => (i + 1 < ids.length ? ids[i + 1] : -1));
      await tidyAsync(async () => {
        const r = lmLoss(model, ids, targets, 1);
        backward(r.loss);
        assertClose(await r.logits.value.toArray(), await expected.read("logits"), 1e-4, "logits");
        assertClose(await r.loss.value.toArray(), await expected.read("loss"), 1e-4, "loss");
      });
      let checked = 0;
      for (const [pname, p] of model.params) {
        const key = [`grad.${pname}`, `grad.${pname.replace(/^transformer\./, "")}`].find((k) =>
          expected.tensors.has(k)
        );
        if (!key) throw new Error(`oracle has no gradient for ${pname}`);
        if (!p.grad) throw new Error(`no gradient reached ${pname}`);
        assertClose(await p.grad.toArray(), await expected.read(key), 1e-4, `grad ${pname}`);
        checked++;
      }
      if (checked !== model.params.size) throw new Error("not every parameter was checked");
    } finally {
      expected.close();
      disposeModel(model);
    }
  });
}
