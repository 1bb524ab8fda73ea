// Typed errors for reading model files and writing outputs. Every error names the file it came
// from and the tensor or field at fault, so a bad checkpoint is diagnosed from the message alone.

/** Base class of every model-file error (safetensors, config.json, tokenizer.json). */
export class ModelFileError extends Error {
  /** The file being read or written. */
  readonly file: string;
  /** The tensor name or config field at fault, when there is one. */
  readonly field: string | null;

  /**
   * The message is "`file` [`field`]: `detail`" (no brackets when `field` is null); the name is
   * the subclass's (SafetensorsError...).
   */
  constructor(file: string, field: string | null, detail: string, options?: ErrorOptions) {
    super(`${file}${field === null ? "" : ` [${field}]`}: ${detail}`, options);
    this.name = new.target.name;
    this.file = file;
    this.field = field;
  }
}

/** A safetensors file is malformed, truncated, unsupported or could not be written. */
export class SafetensorsError extends ModelFileError {}

/** A PyTorch checkpoint (pytorch_model.bin) is malformed, unreadable, or more than tensors. */
export class TorchCheckpointError extends ModelFileError {}

/** A config.json describes a model this engine cannot run, or is malformed. */
export class ConfigError extends ModelFileError {}

/** A tokenizer.json is missing, malformed, or does not fit the model. */
export class TokenizerError extends ModelFileError {}

/**
 * A file-system operation failed (a missing folder, a read-only disk, a path through a file...):
 * names the path and the operation in words, without the raw OS code (src/io/files.ts fsError).
 */
export class FileSystemError extends Error {
  override name = "FileSystemError";
  constructor(readonly file: string, readonly op: string, detail: string, options?: ErrorOptions) {
    super(`cannot ${op} ${file}: ${detail}`, options);
  }
}
