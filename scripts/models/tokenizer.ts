// A SentencePiece-style ("llama" tokenizer model) vocabulary for the synthetic models. llama.cpp's
// SPM tokenizer starts from single characters and merges adjacent pieces whose concatenation is in
// the vocabulary (highest score first); what stays unknown falls back to the byte tokens
// <0x00>..<0xFF>. So any text tokenizes, and common words become single tokens because every
// prefix of a word piece is a piece too.

/** llama.cpp's `enum llama_token_type` (the values of tokenizer.ggml.token_type). */
export enum TokenType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  Byte = 6,
}

export interface SpmVocab {
  tokens: string[];
  scores: Float32Array;
  types: Int32Array;
  unkId: number;
  bosId: number;
  eosId: number;
}

/** SentencePiece's word-boundary mark (U+2581), which stands for a space. */
const SPACE = "\u2581";

const CHARACTERS = [
  ..."abcdefghijklmnopqrstuvwxyz",
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  ..."0123456789",
  ...".,!?'\"-:;()",
];

const WORDS = (
  "the of and to in is you that it he was for on are as with his they at be this have from or one " +
  "had by word but not what all were we when your can said there use an each which she do how their " +
  "if will up other about out many then them these so some her would make like him into time has " +
  "look two more write go see number no way could people my than first water been call who its now " +
  "find long down day did get come made may part hello world model token profile graph tensor thread"
).split(" ");

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** Every prefix of `piece` of at least two characters, shortest first, then `piece` itself. */
function withPrefixes(piece: string): string[] {
  const chars = [...piece];
  return chars.slice(1).map((_, i) => chars.slice(0, i + 2).join(""));
}

function capitalized(word: string): string {
  return word[0].toUpperCase() + word.slice(1);
}

/** Lowercase letter strings of length `n`, in lexicographic order. */
function* letterStrings(n: number): Generator<string> {
  if (n === 0) {
    yield "";
    return;
  }
  for (const head of letterStrings(n - 1)) {
    for (const letter of LETTERS) yield head + letter;
  }
}

/** The normal pieces, most frequent first: characters, common words, then letter n-grams. */
function* normalPieces(): Generator<string> {
  yield SPACE;
  yield* CHARACTERS;
  for (const word of WORDS) {
    yield* withPrefixes(SPACE + word);
    yield* withPrefixes(SPACE + capitalized(word));
  }
  for (let n = 2; ; n++) {
    for (const s of letterStrings(n)) {
      yield SPACE + s.slice(0, -1);
      yield s;
    }
  }
}

function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** A vocabulary of exactly `size` distinct tokens: <unk>, <s>, </s>, 256 byte tokens, then pieces. */
export function buildSpmVocab(size: number): SpmVocab {
  if (size < 3 + 256 + 1 + CHARACTERS.length) {
    throw new Error(`a vocabulary of ${size} tokens has no room for the byte tokens and the characters`);
  }
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(byteToken(byte));
    types.push(TokenType.Byte);
  }
  const firstPiece = tokens.length;
  const seen = new Set(tokens);
  for (const piece of normalPieces()) {
    if (tokens.length >= size) break;
    if (seen.has(piece)) continue;
    seen.add(piece);
    tokens.push(piece);
    types.push(TokenType.Normal);
  }
  const scores = Float32Array.from(tokens, (_, i) => (i < firstPiece ? 0 : firstPiece - i - 1));
  return { tokens, scores, types: Int32Array.from(types), unkId: 0, bosId: 1, eosId: 2 };
}
