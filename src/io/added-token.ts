// A Hugging Face tokenizer.json added token: a text matched whole before the model runs, never
// normalized, as every tokenizer.json this project writes lists its special tokens.

export function addedToken<Id extends number | undefined>(id: Id, content: string, special = true) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special,
  };
}
