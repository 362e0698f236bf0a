"""Neural style transfer (Gatys et al. 2015; Foster 1st ed. ch. 5): images, VGG19 weights, feature networks,
the book's losses, L-BFGS on the pixels, and what `genzoo style-transfer` does."""
