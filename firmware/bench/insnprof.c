/* QEMU TCG plugin (plugin API v1, QEMU 7.2): insncount.c plus a profile.
 * Same markers and log lines as insncount.c (so the host test runs with it:
 * ARMORIQ_QEMU_PLUGIN=firmware/target/libinsnprof.so); in addition, at each
 * end marker it appends to out=FILE one line per instruction address executed
 * in the region, `<region> <address hex> <count>`, for bench/profile.py.
 * Arguments: start=0xADDR,end=0xADDR,out=FILE,base=0xADDR (the image's flash
 * origin; default 0); out= and base= default to $ARMORIQ_INSNPROF_OUT and
 * $ARMORIQ_INSNPROF_BASE. Not used by CI: a tool for finding where a check's
 * instructions go. Build: gcc -shared -fPIC -O2 -o libinsnprof.so insnprof.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <stddef.h>
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn, enum qemu_plugin_op op,
                                                void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;
static uint64_t count, start_pc = ~0ull, end_pc = ~0ull, at_start, regions;
static bool in_region;
#define SLOTS (1u << 18) /* 512 KiB of Thumb code, 2-byte steps */
static uint64_t hist[SLOTS], snap[SLOTS], base;
static FILE *out;

static void on_start(unsigned int vcpu, void *u) {
    (void)vcpu; (void)u;
    in_region = true;
    at_start = count;
    memcpy(snap, hist, sizeof hist);
}

static void on_end(unsigned int vcpu, void *u) {
    char buf[96];
    (void)vcpu; (void)u;
    if (!in_region) return;
    in_region = false;
    snprintf(buf, sizeof buf, "insncount: region %llu = %llu\n", (unsigned long long)regions++,
             (unsigned long long)(count - at_start));
    qemu_plugin_outs(buf);
    if (out) {
        for (uint32_t i = 0; i < SLOTS; i++)
            if (hist[i] != snap[i])
                fprintf(out, "%llu %llx %llu\n", (unsigned long long)(regions - 1),
                        (unsigned long long)(base + 2ull * i), (unsigned long long)(hist[i] - snap[i]));
        fflush(out);
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        /* The callbacks run before the instruction, the inline add after the
         * callback registration order: the start marker's first instruction is
         * counted, the end marker's is not. */
        if (pc == start_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_start, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &count, 1);
        if (pc >= base && (pc - base) / 2 < SLOTS)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &hist[(pc - base) / 2], 1);
    }
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "start=", 6)) start_pc = strtoull(argv[i] + 6, NULL, 0);
        else if (!strncmp(argv[i], "end=", 4)) end_pc = strtoull(argv[i] + 4, NULL, 0);
        else if (!strncmp(argv[i], "base=", 5)) base = strtoull(argv[i] + 5, NULL, 0);
        else if (!strncmp(argv[i], "out=", 4)) out = fopen(argv[i] + 4, "w");
    }
    if (!base && getenv("ARMORIQ_INSNPROF_BASE")) base = strtoull(getenv("ARMORIQ_INSNPROF_BASE"), NULL, 0);
    if (!out && getenv("ARMORIQ_INSNPROF_OUT")) out = fopen(getenv("ARMORIQ_INSNPROF_OUT"), "w");
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    return 0;
}
