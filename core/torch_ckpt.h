/* torch_ckpt.h - EfficientNet-B0 from PyTorch checkpoints (internal API).
 *
 * Both torch.save formats: the zip archive (<name>/data.pkl + <name>/data/<key>, what
 * torch >= 1.6 writes) and the legacy stream (pickles of the magic number, the protocol
 * version and sys info, then the object, then the list of storage keys, then each storage as
 * a little-endian int64 element count and its raw bytes). The object is read by pickle.h's
 * restricted unpickler. Accepted layouts are models/convert.py's: CoralNet's
 * {'net': state_dict} with `module.` names, a lukemelas state_dict (bare or under
 * 'state_dict' / 'model' / 'model_state_dict'), torchvision's efficientnet_b0 state_dict;
 * classifier heads and num_batches_tracked are dropped. */
#ifndef POLYP_TORCH_CKPT_H
#define POLYP_TORCH_CKPT_H

#include "internal.h"

/* 1 when the bytes start like a torch.save file (zip local header, or the legacy stream's
 * pickled magic number). */
int polyp_torch_detect(const void *data, size_t size);

/* Checks the checkpoint (every tensor's name, float dtype and shape against B0, the
 * checkpoint's own names in messages) and re-writes it as the canonical safetensors file
 * models/convert.py would write: float32 tensors in lukemelas names, metadata format,
 * variant, source_sha256 (of `data`), source_layout. `data` is borrowed; *out owned:
 * polyp_free. */
polyp_status polyp_torch_to_safetensors(const void *data, size_t size, void **out, size_t *out_size,
                                        polyp_error *err);

#endif /* POLYP_TORCH_CKPT_H */
