#!/usr/bin/env bash
# Render a report.html (or a comparison page) to a PNG with headless Chromium, to see the page
# as a browser shows it. Not part of the test suite.
#
#   bash benchmarks/render_report.sh RUN_DIR_OR_HTML [OUT.png] [WIDTH]
#
# WIDTH is the browser window's width in CSS pixels (default 1280, a laptop screen). The page
# is rendered into a tall window and the blank space below it is cropped away. With SHRINK_TO=N
# in the environment the PNG is scaled to N pixels wide and reduced to 128 colours (a small copy
# for documentation). Needs Chromium (Debian/Ubuntu: apt-get install chromium) and Pillow.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 RUN_DIR_OR_HTML [OUT.png] [WIDTH]" >&2
  exit 2
fi
page=$1
[ -d "$page" ] && page="$page/report.html"
[ -f "$page" ] || { echo "error: $page does not exist" >&2; exit 2; }
out=${2:-${page%.html}.png}
width=${3:-1280}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "error: no Chromium found; install it (apt-get install chromium)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --no-sandbox: Chromium refuses to run as root with its sandbox on; the page is a local file.
"$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars --user-data-dir="$tmp/profile" \
  --window-size="$width,6000" --screenshot="$tmp/page.png" "file://$(realpath "$page")" >/dev/null 2>&1

python - "$tmp/page.png" "$out" "${SHRINK_TO:-}" <<'PY'
import os
import sys

from PIL import Image, ImageChops

source, out, shrink_to = sys.argv[1], sys.argv[2], sys.argv[3]
page = Image.open(source).convert("RGB")
background = Image.new("RGB", page.size, page.getpixel((page.width - 1, page.height - 1)))
box = ImageChops.difference(page, background).getbbox()  # what differs from the blank bottom
page = page.crop((0, 0, page.width, min(page.height, box[3] + 24) if box else page.height))
if shrink_to:
    width = int(shrink_to)
    page = page.resize((width, round(page.height * width / page.width)), Image.LANCZOS)
    page = page.quantize(colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
page.save(out, optimize=True)
print(f"{out}: {page.width} x {page.height} px, {os.path.getsize(out) // 1024} KiB")
PY
