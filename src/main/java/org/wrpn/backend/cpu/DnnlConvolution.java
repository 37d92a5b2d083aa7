package org.wrpn.backend.cpu;

import static org.bytedeco.dnnl.global.dnnl.*;
import static org.wrpn.backend.cpu.ArrayChecks.expectLength;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.wrpn.backend.ConvGeometry;

/**
 * Convolutions on oneDNN (the engine PyTorch's CPU convolutions run on): direct NHWC/OHWI
 * primitives for forward, backward data and backward weights, created once per geometry and
 * reused. Operands live in Java arrays, so each call copies its inputs into off-heap staging
 * buffers (one per role, grown to the largest use) and its output back: one pass over each tensor,
 * against im2col's patch-sized copies. oneDNN's scratchpad is user-managed, in one shared buffer.
 * Results depend on the thread count (oneDNN's OpenMP threads), not on the run.
 */
final class DnnlConvolution implements AutoCloseable {
    /**
     * FORWARD_INT8: u8 activation codes times s8 weight codes summed in s32 (oneDNN's int8 kernels), for
     * the quantized forward; its operands are bytes, bytes and ints.
     */
    enum Pass { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS, FORWARD_INT8 }

    private record Key(ConvGeometry g, Pass pass) {}

    /** One operand: the user's plain memory (staging buffer) and, where oneDNN wants another layout, its own plus a reorder. */
    private static final class Operand {
        final int arg;
        final boolean output;
        final dnnl_memory user = new dnnl_memory();
        dnnl_memory inner;
        long innerBytes;
        dnnl_primitive reorder;
        dnnl_exec_arg_t reorderArgs;

        Operand(int arg, boolean output) {
            this.arg = arg;
            this.output = output;
        }
    }

    /** One primitive with its operands (handles set per call) and argument list. */
    private static final class Prim {
        dnnl_primitive_desc pd;
        dnnl_primitive prim;
        Operand[] ops;
        dnnl_memory scratchMem;
        dnnl_exec_arg_t args;
        int nargs;
        long scratchBytes;
        /** Elements of each operand in the user layout, and bytes per element. */
        long[] floats;
        int[] elementBytes = {4, 4, 4};
        String impl;
    }

    private final dnnl_engine engine = new dnnl_engine();
    private final dnnl_stream stream = new dnnl_stream();
    private final Map<Key, Prim> prims = new HashMap<>();
    /** Off-heap buffers by role: 0-2 the operands in the user layout, 3-5 in oneDNN's, 6 the scratchpad. */
    private final BytePointer[] staging = new BytePointer[7];

    private final CpuMemory memory;

    DnnlConvolution(CpuMemory memory) {
        this.memory = memory;
        Loader.load(org.bytedeco.dnnl.global.dnnl.class);
        check(dnnl_engine_create(engine, dnnl_cpu, 0), "engine");
        check(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "stream");
    }

    private static void check(int status, String what) {
        if (status != dnnl_success) throw new IllegalStateException("oneDNN " + what + " failed: status " + status);
    }

    /** A memory descriptor (an opaque oneDNN handle the caller destroys with dnnl_memory_desc_destroy). */
    private static dnnl_memory_desc md(long[] dims, int type, int tag) {
        dnnl_memory_desc d = new dnnl_memory_desc();
        check(dnnl_memory_desc_create_with_tag(d, dims.length, dims, type, tag), "memory desc");
        return d;
    }

    private static long[] src(ConvGeometry g) {
        return new long[] {g.n(), g.cin(), g.h(), g.w()};
    }

    private static long[] dst(ConvGeometry g) {
        return new long[] {g.n(), g.cout(), g.outH(), g.outW()};
    }

    private static long[] weights(ConvGeometry g) {
        return new long[] {g.cout(), g.cin(), g.kh(), g.kw()};
    }

    private Prim prim(ConvGeometry g, Pass pass) {
        Key key = new Key(g, pass);
        Prim p = prims.get(key);
        if (p == null) {
            p = create(g, pass);
            prims.put(key, p);
        }
        return p;
    }

    private Prim create(ConvGeometry g, Pass pass) {
        boolean int8 = pass == Pass.FORWARD_INT8;
        dnnl_memory_desc ux = md(src(g), int8 ? dnnl_u8 : dnnl_f32, dnnl_nhwc), uw = md(weights(g), int8 ? dnnl_s8 : dnnl_f32, dnnl_ohwi),
                uy = md(dst(g), int8 ? dnnl_s32 : dnnl_f32, dnnl_nhwc);
        // activations stay NHWC (oneDNN's brgconv/jit kernels take it); weights in whatever layout the kernel wants, reordered per call
        dnnl_memory_desc w = md(weights(g), int8 ? dnnl_s8 : dnnl_f32, dnnl_format_tag_any);
        long[] strides = {g.stride(), g.stride()};
        long[] padL = {g.pad(), g.pad()};
        long[] padR = {padRight(g.h(), g.kh(), g.outH(), g), padRight(g.w(), g.kw(), g.outW(), g)};
        dnnl_primitive_attr attr = new dnnl_primitive_attr();
        check(dnnl_primitive_attr_create(attr), "attr");
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
        dnnl_primitive_desc fwdPd = new dnnl_primitive_desc();
        check(dnnl_convolution_forward_primitive_desc_create(fwdPd, engine, int8 ? dnnl_forward_inference : dnnl_forward_training,
                dnnl_convolution_direct, ux, w, null, uy, strides, (long[]) null, padL, padR, attr), "convolution forward");
        Prim p = new Prim();
        long xs = (long) g.n() * g.h() * g.w() * g.cin(), ys = (long) g.n() * g.outH() * g.outW() * g.cout(), ws = (long) g.cout() * g.patch();
        p.floats = switch (pass) {
            case FORWARD, FORWARD_INT8 -> new long[] {xs, ws, ys};
            case BACKWARD_DATA -> new long[] {ys, ws, xs};
            case BACKWARD_WEIGHTS -> new long[] {xs, ys, ws};
        };
        dnnl_memory_desc[] users;
        int[] queries;
        if (int8) p.elementBytes = new int[] {1, 1, 4};
        if (pass == Pass.FORWARD || int8) {
            p.pd = fwdPd;
            p.ops = new Operand[] {new Operand(DNNL_ARG_SRC, false), new Operand(DNNL_ARG_WEIGHTS, false), new Operand(DNNL_ARG_DST, true)};
            users = new dnnl_memory_desc[] {ux, uw, uy};
            queries = new int[] {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md};
        } else {
            p.pd = new dnnl_primitive_desc();
            if (pass == Pass.BACKWARD_DATA) {
                check(dnnl_convolution_backward_data_primitive_desc_create(p.pd, engine, dnnl_convolution_direct, ux, w, uy, strides,
                        (long[]) null, padL, padR, fwdPd, attr), "convolution " + pass);
                p.ops = new Operand[] {new Operand(DNNL_ARG_DIFF_DST, false), new Operand(DNNL_ARG_WEIGHTS, false),
                    new Operand(DNNL_ARG_DIFF_SRC, true)};
                users = new dnnl_memory_desc[] {uy, uw, ux};
                queries = new int[] {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md};
            } else {
                check(dnnl_convolution_backward_weights_primitive_desc_create(p.pd, engine, dnnl_convolution_direct, ux, w, null, uy,
                        strides, (long[]) null, padL, padR, fwdPd, attr), "convolution " + pass);
                p.ops = new Operand[] {new Operand(DNNL_ARG_SRC, false), new Operand(DNNL_ARG_DIFF_DST, false),
                    new Operand(DNNL_ARG_DIFF_WEIGHTS, true)};
                users = new dnnl_memory_desc[] {ux, uy, uw};
                queries = new int[] {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md};
            }
            dnnl_primitive_desc_destroy(fwdPd);
        }
        dnnl_primitive_attr_destroy(attr);
        p.prim = new dnnl_primitive();
        check(dnnl_primitive_create(p.prim, p.pd), "primitive");
        for (int i = 0; i < 3; i++) {
            Operand o = p.ops[i];
            check(dnnl_memory_create(o.user, users[i], engine, (Pointer) null), "memory");
            dnnl_memory_desc want = dnnl_primitive_desc_query_md(p.pd, queries[i], 0); // the primitive descriptor's own: not destroyed here
            if (dnnl_memory_desc_equal(want, users[i]) == 0) {
                o.inner = new dnnl_memory();
                check(dnnl_memory_create(o.inner, want, engine, (Pointer) null), "memory");
                o.innerBytes = dnnl_memory_desc_get_size(want);
                dnnl_primitive_desc rpd = new dnnl_primitive_desc();
                check(dnnl_reorder_primitive_desc_create(rpd, o.output ? want : users[i], engine, o.output ? users[i] : want, engine, null),
                        "reorder");
                o.reorder = new dnnl_primitive();
                check(dnnl_primitive_create(o.reorder, rpd), "reorder primitive");
                dnnl_primitive_desc_destroy(rpd);
                o.reorderArgs = new dnnl_exec_arg_t(2);
                o.reorderArgs.position(0).arg(DNNL_ARG_FROM).memory(o.output ? o.inner : o.user);
                o.reorderArgs.position(1).arg(DNNL_ARG_TO).memory(o.output ? o.user : o.inner);
                o.reorderArgs.position(0);
            }
        }
        // the memories keep their own copies of the descriptors (oneDNN 3)
        for (dnnl_memory_desc d : new dnnl_memory_desc[] {ux, uw, uy, w}) check(dnnl_memory_desc_destroy(d), "memory desc destroy");
        dnnl_memory_desc sp = dnnl_primitive_desc_query_md(p.pd, dnnl_query_scratchpad_md, 0);
        p.scratchBytes = sp == null || sp.isNull() ? 0 : dnnl_memory_desc_get_size(sp);
        p.nargs = p.scratchBytes > 0 ? 4 : 3;
        p.args = new dnnl_exec_arg_t(p.nargs);
        for (int i = 0; i < 3; i++) {
            Operand o = p.ops[i];
            p.args.position(i).arg(o.arg).memory(o.inner != null ? o.inner : o.user);
        }
        if (p.scratchBytes > 0) {
            p.scratchMem = new dnnl_memory();
            check(dnnl_memory_create(p.scratchMem, sp, engine, (Pointer) null), "memory");
            p.args.position(3).arg(DNNL_ARG_SCRATCHPAD).memory(p.scratchMem);
        }
        p.args.position(0);
        PointerPointer<BytePointer> info = new PointerPointer<>(1);
        if (dnnl_primitive_desc_query(p.pd, dnnl_query_impl_info_str, 0, info) == dnnl_success) {
            p.impl = info.getString(0);
        }
        info.close();
        return p;
    }

    /** Right/bottom padding that makes oneDNN's output size rule give exactly `out`. */
    private static long padRight(int in, int k, int out, ConvGeometry g) {
        return (long) (out - 1) * g.stride() + k - in - g.pad();
    }

    /** Whether oneDNN runs on VNNI here: u8 x s8 products summed into s32 without an int16 step. */
    private static final boolean VNNI = vnni(dnnl_get_effective_cpu_isa());

    private static boolean vnni(int isa) {
        return (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni
                || (isa & dnnl_cpu_isa_avx2_vnni) == dnnl_cpu_isa_avx2_vnni;
    }

    /**
     * Whether {@link Pass#FORWARD_INT8} gives the exact int32 sum for activation codes up to
     * 2^k - 1 and weight codes up to maxWeightCode: always on VNNI; without it oneDNN adds pairs of
     * u8 x s8 products in int16 (vpmaddubsw saturates), so only while two products fit in it.
     */
    static boolean int8Exact(int activationBits, int maxWeightCode) {
        return VNNI || 2L * ((1 << activationBits) - 1) * maxWeightCode <= Short.MAX_VALUE;
    }

    /** The oneDNN implementation chosen for a pass (e.g. "brg_conv_fwd:avx512_core"), for profiles and tests. */
    String implementation(ConvGeometry g, String pass) {
        return prim(g, Pass.valueOf(pass)).impl;
    }

    private Pointer stage(int role, long bytes) {
        BytePointer s = staging[role];
        if (s == null || s.capacity() < bytes) {
            if (s != null) s.close();
            s = new BytePointer(Math.max(bytes, 64));
            staging[role] = s;
        }
        return s;
    }

    /** A staging buffer as a segment of `bytes` bytes, for the Java code that fills and drains it. */
    private static MemorySegment segment(Pointer staging, long bytes) {
        return MemorySegment.ofAddress(staging.address()).reinterpret(bytes);
    }

    /**
     * Runs one pass on operands the caller stages: in0 and in1 fill the two inputs (in the pass's
     * operand order: FORWARD x, w; BACKWARD_DATA dy, w; BACKWARD_WEIGHTS x, dy) in the user layout
     * (NHWC, OHWI), out reads the result. A null fill keeps what the previous execute staged there (repeated passes over one
     * staged operand, with nothing run in between). The caller counts the workspace
     * ({@link CpuConvolution#workspaceBytes}).
     */
    void execute(ConvGeometry g, Pass pass, CodeStaging.Fill in0, CodeStaging.Fill in1, CodeStaging.Drain out) {
        Prim p = prim(g, pass);
        CpuThreads.applyToOpenMp(CpuThreads.get());
        CodeStaging.Fill[] fills = {in0, in1};
        Pointer[] views = new Pointer[3];
        for (int i = 0; i < 3; i++) {
            Operand o = p.ops[i];
            long bytes = (long) p.elementBytes[i] * p.floats[i];
            views[i] = stage(i, bytes);
            if (!o.output && fills[i] != null) fills[i].write(segment(views[i], bytes));
            check(dnnl_memory_set_data_handle(o.user, views[i]), "handle");
            if (o.inner != null) check(dnnl_memory_set_data_handle(o.inner, stage(3 + i, o.innerBytes)), "handle");
            if (!o.output && o.reorder != null) check(dnnl_primitive_execute(o.reorder, stream, 2, o.reorderArgs), "reorder");
        }
        if (p.scratchBytes > 0) check(dnnl_memory_set_data_handle(p.scratchMem, stage(6, p.scratchBytes)), "handle");
        check(dnnl_primitive_execute(p.prim, stream, p.nargs, p.args), "execute");
        Operand o = p.ops[2];
        if (o.reorder != null) check(dnnl_primitive_execute(o.reorder, stream, 2, o.reorderArgs), "reorder");
        check(dnnl_stream_wait(stream), "wait");
        out.read(segment(views[2], (long) p.elementBytes[2] * p.floats[2]));
    }

    private static void checkConv(float[] x, float[] w, float[] y, ConvGeometry g) {
        expectLength(x, (long) g.n() * g.h() * g.w() * g.cin(), "conv input");
        expectLength(w, (long) g.cout() * g.patch(), "conv weights");
        expectLength(y, (long) g.n() * g.outH() * g.outW() * g.cout(), "conv output");
    }

    /** Runs a pass with its staging counted as allocated meanwhile (CpuConvolution's rule). */
    private void counted(ConvGeometry g, Pass pass, float[] in0, float[] in1, float[] out) {
        long workspace = CpuConvolution.workspaceBytes(g);
        memory.workspaceInUse(workspace);
        try {
            execute(g, pass, CodeStaging.from(in0), CodeStaging.from(in1), CodeStaging.into(out));
        } finally {
            memory.workspaceInUse(-workspace);
        }
    }

    void forward(float[] x, float[] w, float[] y, ConvGeometry g) {
        checkConv(x, w, y, g);
        counted(g, Pass.FORWARD, x, w, y);
    }

    void backwardData(float[] dy, float[] w, float[] dx, ConvGeometry g) {
        checkConv(dx, w, dy, g);
        counted(g, Pass.BACKWARD_DATA, dy, w, dx);
    }

    void backwardWeights(float[] x, float[] dy, float[] dw, ConvGeometry g) {
        checkConv(x, dw, dy, g);
        counted(g, Pass.BACKWARD_WEIGHTS, x, dy, dw);
    }

    @Override
    public void close() {
        for (Prim p : prims.values()) {
            for (Operand o : p.ops) {
                dnnl_memory_destroy(o.user);
                if (o.inner != null) {
                    dnnl_memory_destroy(o.inner);
                    dnnl_primitive_destroy(o.reorder);
                    o.reorderArgs.close();
                }
            }
            if (p.scratchMem != null) dnnl_memory_destroy(p.scratchMem);
            dnnl_primitive_destroy(p.prim);
            dnnl_primitive_desc_destroy(p.pd);
            p.args.close();
        }
        prims.clear();
        for (int i = 0; i < staging.length; i++) {
            if (staging[i] != null) staging[i].close();
            staging[i] = null;
        }
    }
}
