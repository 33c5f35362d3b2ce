import { InferKind } from '#libs/contracts';

/** A kind's name as its endpoint says it (/v1/embeddings, /v1/completions, /v1/chat/completions); 'unknown' otherwise. */
export function kindName(kind: InferKind): 'embeddings' | 'completions' | 'chat' | 'unknown' {
  switch (kind) {
    case InferKind.EMBEDDING:
      return 'embeddings';
    case InferKind.COMPLETION:
      return 'completions';
    case InferKind.CHAT:
      return 'chat';
    case InferKind.UNSPECIFIED:
      return 'unknown';
    default:
      return 'unknown';
  }
}
