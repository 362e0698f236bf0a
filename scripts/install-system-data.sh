#!/usr/bin/env bash
# Offline data from Debian: Fashion-MNIST (the default dataset), Noto Color Emoji (the colour default), and
# the text corpora of the ch. 6 LSTMs (fortunes, fortunes-min: % -delimited short texts; dict-devil: The
# Devil's Dictionary), and Unicode's emoji-test.txt (the emoji's groups: labels for the colour feature network).
# Needs root (or sudo); without it, says what to install and carries on (--data-dir still works).
set -u
packages=()
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || packages+=(dataset-fashion-mnist)
[ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || packages+=(fonts-noto-color-emoji)
[ -e /usr/share/games/fortunes/cookie ] || packages+=(fortunes)
[ -e /usr/share/games/fortunes/fortunes ] || packages+=(fortunes-min)
[ -e /usr/share/dictd/devil.dict.dz ] || packages+=(dict-devil)
[ -e /usr/share/unicode/emoji/emoji-test.txt ] || packages+=(unicode-data)
[ ${#packages[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "genzoo: no apt-get here; install ${packages[*]} by other means or pass --data-dir" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "genzoo: run 'sudo apt-get install ${packages[*]}' for the offline datasets" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${packages[@]}" >/dev/null \
  || echo "genzoo: apt-get install ${packages[*]} failed; pass --data-dir to use your own copy" >&2
exit 0
