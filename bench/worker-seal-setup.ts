/**
 * What bench/worker-seal.ts and its worker threads (bench/worker-seal-thread.ts) share: the public
 * half of a sealing session's options and the layout of a batch of payloads and of its sealed values.
 */

/** Cloned into a worker; the signing secret key is moved in separately (a transferred buffer). */
export interface SealerPublicSetup {
  readonly namespace: Uint8Array;
  readonly recipientKid: Uint8Array;
  readonly recipientPublicKey: Uint8Array;
  /** The worker's own stream (one sealing session per worker, seqs assigned by the main thread). */
  readonly streamId: Uint8Array;
  readonly schemaFp: Uint8Array;
}

/**
 * Payloads to seal: `count` index entries (Int32 keyStart, keyLen, payloadStart, payloadLen, seq,
 * relative to the data after the index) then the keys and payloads (plaintext: the worker zeroes
 * them once sealed).
 */
export interface SealBatchMessage {
  readonly type: 'seal';
  readonly id: number;
  readonly count: number;
  readonly partition: number;
  readonly bytes: ArrayBuffer;
}
export const SEAL_INDEX_INTS = 5;

/** `count` rows of SEAL_ROW bytes (u32 value offset, u32 length, f64 createdAt, messageId) + values. */
export interface SealResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly count: number;
  readonly bytes: ArrayBuffer;
}
export const SEAL_ROW = 32;
