#!/usr/bin/env bash
# Writes the first NTRAIN training and NTEST test images (and labels) of an MNIST/Fashion-MNIST IDX
# directory as a smaller IDX directory (gzip), for the GPU bundle's training check.
#   benchmarks/gpu-bundle/fashion-slice.sh SRC_DIR OUT_DIR NTRAIN NTEST
set -euo pipefail
SRC="${1:?SRC_DIR}"
OUT="${2:?OUT_DIR}"
NTRAIN="${3:?NTRAIN}"
NTEST="${4:?NTEST}"

# A 32-bit big-endian integer as 4 raw bytes.
be32() {
  local n=$1
  printf "\\x$(printf %02x $(( (n >> 24) & 255 )))\\x$(printf %02x $(( (n >> 16) & 255 )))"
  printf "\\x$(printf %02x $(( (n >> 8) & 255 )))\\x$(printf %02x $(( n & 255 )))"
}

# The decompressed IDX file (gzip or plain), without failing when the reader stops early.
raw() {
  if [[ -f "$SRC/$1.gz" ]]; then { gzip -dc "$SRC/$1.gz" || true; }; else { cat "$SRC/$1" || true; }; fi
}

# slice NAME COUNT HEADER_BYTES RECORD_BYTES: magic, new count, the rest of the header, COUNT records.
slice() {
  local name=$1 count=$2 header=$3 record=$4
  local have
  have=$(raw "$name" | head -c 8 | tail -c 4 | od -An -tu1 | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
  (( count <= have )) || { echo "fashion-slice: $name has $have records, not $count" >&2; exit 1; }
  {
    raw "$name" | head -c 4
    be32 "$count"
    if (( header > 8 )); then raw "$name" | head -c "$header" | tail -c $(( header - 8 )); fi
    raw "$name" | head -c $(( header + count * record )) | tail -c +$(( header + 1 ))
  } | gzip -9 >"$OUT/$name.gz"
}

mkdir -p "$OUT"
pixels=$(( $(raw train-images-idx3-ubyte | head -c 16 | tail -c 8 | od -An -tu1 \
  | awk '{print ($1*16777216 + $2*65536 + $3*256 + $4) * ($5*16777216 + $6*65536 + $7*256 + $8)}') ))
slice train-images-idx3-ubyte "$NTRAIN" 16 "$pixels"
slice train-labels-idx1-ubyte "$NTRAIN" 8 1
slice t10k-images-idx3-ubyte "$NTEST" 16 "$pixels"
slice t10k-labels-idx1-ubyte "$NTEST" 8 1
echo "fashion-slice: $OUT: $NTRAIN training and $NTEST test images of $pixels pixels, $(du -sh "$OUT" | cut -f1)"
