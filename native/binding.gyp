{
  "targets": [
    {
      "target_name": "libmica",
      "product_name": "libmica",
      "sources": ["binding.c", "libmica.c", "pty.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
