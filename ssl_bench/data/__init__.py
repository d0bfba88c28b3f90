"""Data: datasets (uint8 tensors decoded once, or imagefolder splits streamed from disk), batched augmentations on
the training device, relation graphs and nearest-neighbour search."""
