{
  "targets": [
    {
      "target_name": "libmica",
      "product_name": "libmica",
      "sources": ["binding.c", "libmica.c", "pty.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "containerd-shim-mica-v2",
      "type": "executable",
      "sources": ["launcher/launcher.c", "launcher/start.c", "launcher/delete.c", "launcher/sha256.c"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror"]
    }
  ]
}
