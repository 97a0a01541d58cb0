/*
 * Loads an exported generator SavedModel with TensorFlow's C API -- the same C++
 * SavedModel loader (`LoadSavedModel`, tag "serve") that TF Serving uses -- and runs
 * one of its signatures without Python in the loop.
 *
 * The signature's input and output tensor names are read from the SignatureDefs of
 * the loaded MetaGraphDef (a small protobuf wire-format reader below), as TF Serving
 * resolves them; nothing is hard-coded but the signature and key names of the
 * export contract (improved_gan_tf/export.py).
 *
 * Usage:
 *   serve_generator MODEL_DIR serving_default Z_FILE BATCH LATENT_DIM OUT_PREFIX
 *       Z_FILE: BATCH * LATENT_DIM little-endian float32 values (row-major).
 *   serve_generator MODEL_DIR sample SEED NUM_SAMPLES OUT_PREFIX
 *
 * Writes OUT_PREFIX.images.f32 (float32) and OUT_PREFIX.images_uint8.u8 (uint8),
 * raw row-major, and prints each output's shape, first values and sum.
 * Exit status: 0 ok, 1 usage or I/O error, 2 TensorFlow error (message printed).
 *
 * Build (TF_DIR = <site-packages>/tensorflow of the tensorflow wheel):
 *   gcc -O2 -I"$TF_DIR/include" serve_generator.c -o serve_generator \
 *       -L"$TF_DIR" -l:libtensorflow_cc.so.2 -l:libtensorflow_framework.so.2 \
 *       -Wl,-rpath,"$TF_DIR"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"

/* ---------------------------------------------------------------- protobuf reader */
typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} Buf;

static int read_varint(Buf *b, uint64_t *value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (b->p >= b->end) return 0;
    uint8_t byte = *b->p++;
    result |= (uint64_t)(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *value = result;
      return 1;
    }
  }
  return 0;
}

/* Reads the next field. For length-delimited fields `sub` receives the payload. */
static int next_field(Buf *b, uint32_t *field, Buf *sub) {
  uint64_t key, length, ignored;
  if (b->p >= b->end || !read_varint(b, &key)) return 0;
  *field = (uint32_t)(key >> 3);
  sub->p = sub->end = NULL;
  switch (key & 7) {
    case 0: return read_varint(b, &ignored);
    case 1: if (b->end - b->p < 8) return 0; b->p += 8; return 1;
    case 5: if (b->end - b->p < 4) return 0; b->p += 4; return 1;
    case 2:
      if (!read_varint(b, &length) || (uint64_t)(b->end - b->p) < length) return 0;
      sub->p = b->p;
      sub->end = b->p + length;
      b->p += length;
      return 1;
    default: return 0;
  }
}

static int buf_equals(Buf s, const char *text) {
  size_t n = strlen(text);
  return (size_t)(s.end - s.p) == n && memcmp(s.p, text, n) == 0;
}

/* In a message, finds the map<string, V> entry (field `map_field`) with key `key`. */
static int find_map_value(Buf message, uint32_t map_field, const char *key, Buf *value) {
  uint32_t field;
  Buf entry;
  while (next_field(&message, &field, &entry)) {
    if (field != map_field || entry.p == NULL) continue;
    Buf k = {0}, v = {0}, sub;
    uint32_t f;
    while (next_field(&entry, &f, &sub)) {
      if (f == 1) k = sub;
      if (f == 2) v = sub;
    }
    if (k.p && buf_equals(k, key)) {
      *value = v;
      return 1;
    }
  }
  return 0;
}

/* MetaGraphDef.signature_def (5) -> SignatureDef.inputs (1) / outputs (2) -> TensorInfo.name (1). */
static int signature_tensor_name(const TF_Buffer *meta_graph, const char *signature,
                                 int outputs, const char *key, char *name, size_t size) {
  Buf meta = {(const uint8_t *)meta_graph->data, (const uint8_t *)meta_graph->data + meta_graph->length};
  Buf signature_def, tensor_info, sub;
  uint32_t field;
  if (!find_map_value(meta, 5, signature, &signature_def)) return 0;
  if (!find_map_value(signature_def, outputs ? 2 : 1, key, &tensor_info)) return 0;
  while (next_field(&tensor_info, &field, &sub)) {
    if (field == 1 && sub.p) {
      size_t n = (size_t)(sub.end - sub.p);
      if (n + 1 > size) return 0;
      memcpy(name, sub.p, n);
      name[n] = '\0';
      return 1;
    }
  }
  return 0;
}

/* "op_name:index" -> TF_Output of the loaded graph. */
static int graph_output(TF_Graph *graph, const char *tensor_name, TF_Output *out) {
  char op_name[512];
  const char *colon = strrchr(tensor_name, ':');
  size_t n = colon ? (size_t)(colon - tensor_name) : strlen(tensor_name);
  if (n >= sizeof op_name) return 0;
  memcpy(op_name, tensor_name, n);
  op_name[n] = '\0';
  out->oper = TF_GraphOperationByName(graph, op_name);
  out->index = colon ? atoi(colon + 1) : 0;
  return out->oper != NULL;
}

/* ---------------------------------------------------------------- main */
static void print_and_write(const char *prefix, const char *key, const TF_Tensor *tensor) {
  int dims = TF_NumDims(tensor);
  int64_t count = 1;
  printf("%s shape [", key);
  for (int i = 0; i < dims; ++i) {
    printf(i ? ",%lld" : "%lld", (long long)TF_Dim(tensor, i));
    count *= TF_Dim(tensor, i);
  }
  printf("] dtype %s first [", TF_TensorType(tensor) == TF_FLOAT ? "float32" : "uint8");
  double sum = 0;
  for (int64_t i = 0; i < count; ++i) {
    double v = TF_TensorType(tensor) == TF_FLOAT ? ((const float *)TF_TensorData(tensor))[i]
                                                 : ((const uint8_t *)TF_TensorData(tensor))[i];
    sum += v;
    if (i < 6) printf(i ? " %.6f" : "%.6f", v);
  }
  printf("] sum %.6f\n", sum);

  char path[4096];
  snprintf(path, sizeof path, "%s.%s.%s", prefix, key, TF_TensorType(tensor) == TF_FLOAT ? "f32" : "u8");
  FILE *file = fopen(path, "wb");
  if (!file || fwrite(TF_TensorData(tensor), 1, TF_TensorByteSize(tensor), file) != TF_TensorByteSize(tensor)) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
  fclose(file);
}

static void usage(void) {
  fprintf(stderr,
          "usage: serve_generator MODEL_DIR serving_default Z_FILE BATCH LATENT_DIM OUT_PREFIX\n"
          "       serve_generator MODEL_DIR sample SEED NUM_SAMPLES OUT_PREFIX\n");
  exit(1);
}

int main(int argc, char **argv) {
  if (argc < 3) usage();
  const char *model_dir = argv[1];
  const char *signature = argv[2];
  int is_sample = strcmp(signature, "sample") == 0;
  if (!is_sample && strcmp(signature, "serving_default") != 0) usage();
  if ((is_sample && argc != 6) || (!is_sample && argc != 7)) usage();
  const char *out_prefix = argv[argc - 1];

  TF_Status *status = TF_NewStatus();
  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  TF_Buffer *meta_graph = TF_NewBuffer();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, model_dir, tags, 1, graph,
                                                     meta_graph, status);
  if (TF_GetCode(status) != TF_OK) {
    fprintf(stderr, "load failed: %s\n", TF_Message(status));
    return 2;
  }
  printf("loaded %s (TensorFlow C API %s)\n", model_dir, TF_Version());

  /* Inputs of the signature, as TF Serving resolves them. */
  const char *input_keys_default[] = {"z"};
  const char *input_keys_sample[] = {"seed", "num_samples"};
  const char **input_keys = is_sample ? input_keys_sample : input_keys_default;
  int num_inputs = is_sample ? 2 : 1;
  TF_Output inputs[2];
  TF_Tensor *input_values[2];
  for (int i = 0; i < num_inputs; ++i) {
    char name[512];
    if (!signature_tensor_name(meta_graph, signature, 0, input_keys[i], name, sizeof name) ||
        !graph_output(graph, name, &inputs[i])) {
      fprintf(stderr, "signature %s has no input %s\n", signature, input_keys[i]);
      return 2;
    }
    printf("input %s -> %s\n", input_keys[i], name);
  }
  if (is_sample) {
    input_values[0] = TF_AllocateTensor(TF_INT64, NULL, 0, sizeof(int64_t));
    *(int64_t *)TF_TensorData(input_values[0]) = strtoll(argv[3], NULL, 10);
    input_values[1] = TF_AllocateTensor(TF_INT32, NULL, 0, sizeof(int32_t));
    *(int32_t *)TF_TensorData(input_values[1]) = (int32_t)strtol(argv[4], NULL, 10);
  } else {
    int64_t dims[2] = {strtoll(argv[4], NULL, 10), strtoll(argv[5], NULL, 10)};
    size_t bytes = (size_t)(dims[0] * dims[1]) * sizeof(float);
    input_values[0] = TF_AllocateTensor(TF_FLOAT, dims, 2, bytes);
    FILE *file = fopen(argv[3], "rb");
    if (!file || fread(TF_TensorData(input_values[0]), 1, bytes, file) != bytes) {
      fprintf(stderr, "cannot read %zu bytes of z from %s\n", bytes, argv[3]);
      return 1;
    }
    fclose(file);
  }

  const char *output_keys[] = {"images", "images_uint8"};
  TF_Output outputs[2];
  TF_Tensor *output_values[2] = {NULL, NULL};
  for (int i = 0; i < 2; ++i) {
    char name[512];
    if (!signature_tensor_name(meta_graph, signature, 1, output_keys[i], name, sizeof name) ||
        !graph_output(graph, name, &outputs[i])) {
      fprintf(stderr, "signature %s has no output %s\n", signature, output_keys[i]);
      return 2;
    }
    printf("output %s -> %s\n", output_keys[i], name);
  }

  TF_SessionRun(session, NULL, inputs, input_values, num_inputs, outputs, output_values, 2,
                NULL, 0, NULL, status);
  if (TF_GetCode(status) != TF_OK) {
    /* TF_Code 3 is INVALID_ARGUMENT, what TF Serving answers for a refused request. */
    fprintf(stderr, "run failed (TF_Code %d): %s\n", (int)TF_GetCode(status), TF_Message(status));
    return 2;
  }
  for (int i = 0; i < 2; ++i) {
    print_and_write(out_prefix, output_keys[i], output_values[i]);
    TF_DeleteTensor(output_values[i]);
  }
  for (int i = 0; i < num_inputs; ++i) TF_DeleteTensor(input_values[i]);

  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteBuffer(meta_graph);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  return 0;
}
