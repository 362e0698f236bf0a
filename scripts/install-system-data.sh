#!/usr/bin/env bash
# Offline data from Debian: Fashion-MNIST (the default dataset), Noto Color Emoji (the colour default), the text
# corpora of the ch. 6 LSTMs (fortunes, fortunes-min: % -delimited short texts; dict-devil: The Devil's Dictionary),
# Unicode's emoji-test.txt (the emoji's groups: labels for the colour feature network), the font packages that
# font-glyphs / font-styles render, and opencv-doc's example pictures (starry_night.jpg and the photos of style transfer). Then, from npm, the Google and Twitter emoji packs of emoji-styles.
# Also Debian's chromium, the browser the studio's tests drive with Playwright (tests/test_studio_browser.py).
# Needs root (or sudo) for apt-get and npm for the packs; without them, says what to install and carries on
# (--data-dir still works). Never fails.
set -u
packages=()
need() { [ -e "$1" ] || packages+=("$2"); }
need /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz dataset-fashion-mnist
need /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf fonts-noto-color-emoji
need /usr/share/games/fortunes/cookie fortunes
need /usr/share/games/fortunes/fortunes fortunes-min
need /usr/share/dictd/devil.dict.dz dict-devil
need /usr/share/unicode/emoji/emoji-test.txt unicode-data
need /usr/share/doc/opencv-doc/examples/data/starry_night.jpg opencv-doc   # style transfer
need /usr/bin/chromium chromium                                             # the studio's browser tests
# fonts (genzoo.data.fonts)
need /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf fonts-dejavu-core
need /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf fonts-dejavu-extra
need /usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf fonts-liberation2
need /usr/share/fonts/truetype/freefont/FreeSans.ttf fonts-freefont-ttf
need /usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf fonts-urw-base35
need /usr/share/texmf/fonts/opentype/public/tex-gyre/texgyreheros-regular.otf fonts-texgyre
need /usr/share/fonts/truetype/croscore/Arimo-Regular.ttf fonts-croscore
need /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf fonts-noto-core
need /usr/share/fonts/truetype/fifthhorseman/dkg.ttf fonts-dkg-handwriting
need /usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf fonts-humor-sans
need /usr/share/fonts/truetype/sjfonts/Delphine.ttf fonts-sjfonts

install_debian() {
  [ ${#packages[@]} -eq 0 ] && return
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "genzoo: no apt-get here; install ${packages[*]} by other means or pass --data-dir" >&2
    return
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "genzoo: run 'sudo apt-get install ${packages[*]}' for the offline datasets" >&2
      return
    fi
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >/dev/null \
    && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null \
    || echo "genzoo: apt-get install ${packages[*]} failed; pass --data-dir to use your own copy" >&2
}

# emoji-styles reads these npm packs in place from $GENZOO_CACHE/emoji-styles (genzoo.data.registry.cache_dir:
# $GENZOO_CACHE, default ~/.cache/genzoo).
install_emoji_packs() {
  local dir="${GENZOO_CACHE:-$HOME/.cache/genzoo}/emoji-styles"
  local packs="emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0"
  local fix="run 'npm pack $packs' in $dir for the emoji-styles dataset"
  [ -s "$dir/emoji-datasource-google-16.0.0.tgz" ] && [ -s "$dir/emoji-datasource-twitter-16.0.0.tgz" ] && return
  if ! command -v npm >/dev/null 2>&1; then
    echo "genzoo: no npm here; install Node.js's npm and $fix" >&2
    return
  fi
  mkdir -p "$dir" 2>/dev/null && (cd "$dir" && npm pack --silent $packs >/dev/null 2>&1) \
    || echo "genzoo: npm pack failed; $fix" >&2
}

install_debian
install_emoji_packs
exit 0
