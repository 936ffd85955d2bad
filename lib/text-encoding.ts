/**
 * Bytes written as text: how the CLI and the HTTP server take keys and values
 * in JSON and on the command line, and print them.
 */
export type TextEncoding = 'utf8' | 'base64' | 'hex';
export const textEncodings: readonly TextEncoding[] = ['utf8', 'base64', 'hex'];

// Buffer.from() silently drops what it cannot decode, which would quietly turn a typo into a different key.
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The bytes `text` stands for under `encoding`, or undefined when it is not valid in that encoding. */
export function decodeText(text: string, encoding: TextEncoding): Buffer | undefined {
  if (encoding === 'hex' && !HEX.test(text)) return undefined;
  if (encoding === 'base64' && !BASE64.test(text)) return undefined;
  return Buffer.from(text, encoding);
}

export function isTextEncoding(name: unknown): name is TextEncoding {
  return textEncodings.includes(name as TextEncoding);
}
