"""Loads a `nasx export --format pytorch` folder into the reference-shaped module with
strict=True and compares its logits on the export's example batch with nasx's.

usage: check_export.py EXPORT_DIR darts|nb201 C LAYERS_OR_N CLASSES IN_CHANNELS AUXILIARY
Prints `max_abs_diff <value>` and exits 0 when it is below 1e-4."""

import sys

import torch

import reference_modules as ref


def main():
    folder, space, C, depth, classes, in_channels, auxiliary = sys.argv[1:8]
    C, depth, classes, in_channels = int(C), int(depth), int(classes), int(in_channels)
    genotype_text = open(folder + "/genotype.txt").read().strip()
    if space == "darts":
        genotype = eval(genotype_text, {"Genotype": ref.Genotype, "range": range})
        model = ref.NetworkCIFAR(C, classes, depth, auxiliary == "1", genotype, in_channels)
    else:
        model = ref.TinyNetwork(C, depth, ref.parse_nb201(genotype_text), classes, in_channels)
    state = torch.load(folder + "/state_dict.pt")
    model.load_state_dict(state, strict=True)
    model.eval()
    example = torch.load(folder + "/example.pt")
    with torch.no_grad():
        logits = model(example["images"])
    logits = logits[1] if space == "nb201" else logits[0]
    diff = (logits - example["logits"]).abs().max().item()
    print("tensors", len(state), "batch", tuple(example["images"].shape))
    print("max_abs_diff", diff)
    print("max_abs_logit", example["logits"].abs().max().item())
    return 0 if diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
