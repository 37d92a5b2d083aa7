#!/usr/bin/env bash
# Lists the statics that the linker script emu_shared.ld gathered into BINARY's shared-memory range
# (__emu_shared_begin .. __emu_shared_end, which cuda_emu.h fills with garbage before every block) and
# fails when one of them is not a variable of a function defined in the kernel sources: only
# __shared__ arrays may be overwritten between blocks.
#   native/emu/shared-symbols.sh BINARY SOURCE_FILE...
set -euo pipefail
bin="${1:?BINARY}"
shift
(( $# > 0 )) || { echo "shared-symbols: name the kernel sources" >&2; exit 2; }
begin="$(nm "$bin" | awk '$3 == "__emu_shared_begin" { print $1 }')"
end="$(nm "$bin" | awk '$3 == "__emu_shared_end" { print $1 }')"
[[ -n "$begin" && -n "$end" ]] || { echo "shared-symbols: $bin has no shared range (linked without emu_shared.ld?)" >&2; exit 1; }
b=$((16#$begin)); e=$((16#$end))
count=0
bad=0
while read -r addr _ name; do
  a=$((16#$addr))
  (( a >= b && a < e )) || continue
  [[ "$name" == __emu_shared_* ]] && continue
  # "fn<T>(args)::var" or "fn::var": the function's own name, without namespace, template or arguments
  fn="${name%::*}"
  fn="${fn%%(*}"
  fn="${fn%%<*}"
  fn="${fn##*::}"
  if grep -qw -- "$fn" "$@"; then
    count=$((count + 1))
  else
    echo "shared-symbols: $name lies in the shared range but $fn is no kernel-source function" >&2
    bad=1
  fi
done < <(nm -C --defined-only "$bin")
(( bad == 0 )) || exit 1
echo "shared-symbols: $count __shared__ variables in $((e - b)) bytes"
