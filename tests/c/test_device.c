/* test_device.c — the device layer: without a GPU, every CUDA request fails with a
 * sentence naming why and nothing crashes; with one, the caching allocator reuses
 * blocks, copies round-trip exactly, mixing devices is refused and running out of
 * memory is an error, not a crash. */
#include "check.h"

static ss_tensor *tensor_1d(int64_t n, int device)
{
    int64_t shape[1] = {n};
    return ss_tensor_empty(1, shape, device);
}

static void without_device(void)
{
    printf("no usable CUDA device (%s): checking the errors\n", ss_has_cuda() ? "CUDA build" : "CPU-only build");
    CHECK(tensor_1d(4, SS_CUDA) == NULL, "a cuda tensor without a device");
    CHECK(strstr(ss_last_error(), ss_has_cuda() ? "no CUDA device" : "built without CUDA") != NULL, "message: %s",
          ss_last_error());
    CHECK(ss_last_status() == SS_ERR_DEVICE, "status %d", ss_last_status());
    ss_tensor *cpu = need(tensor_1d(4, SS_CPU), "a cpu tensor");
    CHECK(ss_tensor_to(cpu, SS_CUDA) == NULL, "to cuda without a device");
    CHECK_FAILS(ss_cuda_synchronize(), ss_has_cuda() ? "no CUDA device" : "built without CUDA");
    CHECK_FAILS(ss_cuda_empty_cache(), "CUDA");
    char info[64];
    CHECK_FAILS(ss_cuda_device_info(info, sizeof info), "CUDA");
    int64_t used = -1, cached = -1;
    CHECK_OK(ss_cuda_memory(&used, &cached));
    CHECK(used == 0 && cached == 0, "memory %lld %lld", (long long)used, (long long)cached);
    ss_tensor_free(cpu);
}

static void with_device(void)
{
    char info[256];
    CHECK_OK(ss_cuda_device_info(info, sizeof info));
    printf("device: %s\n", info);
    int64_t used0, cached0, used, cached;
    CHECK_OK(ss_cuda_memory(&used0, &cached0));
    ss_tensor *cpu = need(tensor_1d(1000, SS_CPU), "a cpu tensor");
    for (int i = 0; i < 1000; i++) cpu->data[i] = (float)i * 0.37f - 11;
    ss_tensor *gpu = need(ss_tensor_to(cpu, SS_CUDA), "a cuda copy");
    ss_tensor *back = need(ss_tensor_to(gpu, SS_CPU), "a cpu copy");
    CHECK(memcmp(back->data, cpu->data, 4000) == 0, "round trip cpu -> cuda -> cpu is not exact");
    CHECK_OK(ss_cuda_memory(&used, &cached));
    CHECK(used == used0 + 4096, "in use grew by %lld, expected 4096 (1000 floats rounded to 512 B)",
          (long long)(used - used0));
    void *first = gpu->data;
    ss_tensor_free(gpu);
    gpu = need(tensor_1d(1000, SS_CUDA), "a second cuda tensor");
    CHECK(gpu->data == first, "the freed block was not reused");
    CHECK_FAILS(ss_add(gpu, gpu, cpu), "different devices");
    CHECK_OK(ss_tensor_fill(gpu, 2.5f));
    CHECK_OK(ss_tensor_read(back->data, gpu));
    CHECK(back->data[0] == 2.5f && back->data[999] == 2.5f, "fill: %g %g", back->data[0], back->data[999]);
    CHECK(tensor_1d((int64_t)1 << 46, SS_CUDA) == NULL, "256 TiB on the GPU");
    CHECK(ss_last_status() == SS_ERR_NOMEM && strstr(ss_last_error(), "MiB") != NULL, "out of memory: %s",
          ss_last_error());
    ss_tensor *after = need(tensor_1d(8, SS_CUDA), "a tensor after running out"); /* the device still works */
    CHECK_OK(ss_cuda_synchronize());
    ss_tensor_free(after), ss_tensor_free(gpu), ss_tensor_free(back), ss_tensor_free(cpu);
    CHECK_OK(ss_cuda_empty_cache());
    CHECK_OK(ss_cuda_memory(&used, &cached));
    CHECK(cached == 0 && used == used0, "after empty_cache: in use %lld, cached %lld", (long long)used,
          (long long)cached);
}

int main(void)
{
    printf("test_device: built %s CUDA, %d device(s)\n", ss_has_cuda() ? "with" : "without", ss_cuda_device_count());
    if (ss_cuda_device_count() > 0) with_device();
    else without_device();
    return test_summary("test_device");
}
