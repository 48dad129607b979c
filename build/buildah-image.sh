#!/usr/bin/env bash
# Assembles the container image without a Docker engine: buildah (Debian package), as root, vfs storage,
# chroot isolation. Only FROM scratch works offline, so the image is the single executable plus the shared
# libraries ldd says it needs (glibc, libstdc++, libgcc_s, the loader): what distroless/cc provides.
#
#   bash build/buildah-image.sh [image-name]        # default knative-events:scratch
#
# Then e.g.: buildah --storage-driver vfs push knative-events:scratch oci-archive:dist/knative-events.oci.tar
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-knative-events:scratch}"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot

[ -x dist/knative-events ] && [ dist/knative-events -nt dist/knative-events.cjs ] || node build/build-binary.mjs

# The executable's shared libraries and the dynamic loader, at the paths the executable looks for them.
mapfile -t libs < <(ldd dist/knative-events | grep -oE '/[^ ]+\.so[^ ]*' | sort -u)

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null' EXIT
mnt=$(buildah mount "$ctr")
install -D -m 0555 dist/knative-events "$mnt/app/knative-events"
install -D -m 0444 dist/THIRD_PARTY_LICENSES.md "$mnt/app/THIRD_PARTY_LICENSES.md" 2>/dev/null || true
for lib in "${libs[@]}"; do install -D -m 0555 "$(readlink -f "$lib")" "$mnt$lib"; done
install -d -m 1777 "$mnt/tmp"
# A passwd entry for the non-root user, so tools that resolve the uid (and Node's os.userInfo) work.
install -d "$mnt/etc"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$mnt/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$mnt/etc/group"
buildah umount "$ctr" >/dev/null

version=$(node -p 'require("./package.json").version')
buildah config \
  --entrypoint '["/app/knative-events"]' --cmd '' \
  --user 65532:65532 --workingdir /tmp --port 8080 \
  --env PORT=8080 --env NODE_ENV=production --env GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
  --label org.opencontainers.image.title=knative-events \
  --label "org.opencontainers.image.description=One runtime for Knative event-driven services: handler, subscriber, sink-forwarder and dlq roles (single executable)" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image"
