#!/bin/sh
# Runs chromium ($CHROMIUM, default /usr/bin/chromium) with every --disable-features=... switch it was given
# merged into one. Chromium keeps only the LAST such switch, and Playwright passes its own list before the
# launch's args: a second one from test/helpers/chromium.ts would silently drop Playwright's.
features=''
for arg; do
  shift
  case $arg in
    --disable-features=*) features="$features${features:+,}${arg#--disable-features=}" ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "${CHROMIUM:-/usr/bin/chromium}" "$@" ${features:+"--disable-features=$features"}
