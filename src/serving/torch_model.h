// The TorchScript backend (libtorch). Kept in its own library so only torch_model.cc pays for
// torch's headers and only binaries that call RegisterTorchScriptBackend link libtorch.
#pragma once

namespace skiff::serving {

// Registers the "pytorch" backend: a directory with model.pt (TorchScript) and model_card.json
// (as `skiff-ml train` writes them; the card gives input/output shapes, dtype and labels).
// Also sets torch's inter-op pool to one thread, once per process.
void RegisterTorchScriptBackend();

}  // namespace skiff::serving
