package org.wrpn.backend;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Every byte a network allocates goes through the ledger, tagged with what it is for. The trainer
 * reads its live total and high-water mark; the planner runs the very same layer code on a backend
 * that allocates nothing and reads the same numbers. Backend-internal scratch (staging buffers and the
 * like) is declared as workspace around the op that uses it.
 */
public final class MemoryLedger {
    public enum Category {
        /** fp32 master weights and BN parameters and statistics. */
        MASTER_WEIGHTS,
        /** Quantized copies of weights, remade each step. */
        QUANTIZED_WEIGHTS,
        GRADIENTS,
        OPTIMIZER_STATE,
        /** The input batch and labels. */
        INPUT,
        /** Activations and gradients flowing between layers: saved for backward, or transient. */
        ACTIVATIONS,
        /** Per-layer state kept for backward that is not a layer output (masks, pool choices, BN batch statistics). */
        LAYER_STATE,
        /** Scratch inside an op (the CPU convolution's staging and the like). */
        WORKSPACE
    }

    /** One tensor kept for the backward pass. */
    public record Entry(String owner, String tensor, String format, long bytes) {}

    private final Backend backend;
    private final Map<Tensor, Category> categoryOf = new IdentityHashMap<>();
    private final Map<Tensor, String> ownerOf = new IdentityHashMap<>();
    private final EnumMap<Category, Long> live = new EnumMap<>(Category.class);
    private final EnumMap<Category, Long> peak = new EnumMap<>(Category.class);
    private long liveTotal;
    private long peakTotal;
    private long workspaceInUse;
    /** The step's activation, state and workspace tensors live at the last high-water mark, when asked for. */
    private List<Entry> atPeak;

    public MemoryLedger(Backend backend) {
        this.backend = backend;
        for (Category c : Category.values()) {
            live.put(c, 0L);
            peak.put(c, 0L);
        }
    }

    public Backend backend() {
        return backend;
    }

    public Tensor allocate(Category c, String owner, DType dtype, Shape shape) {
        return track(backend.allocate(dtype, shape), c, owner);
    }

    public Tensor allocatePacked(Category c, String owner, Shape shape, int bits) {
        return track(backend.allocatePacked(shape, bits), c, owner);
    }

    /** An output the next op overwrites in full: not zero-filled ({@link Backend#allocateUninitialized}). */
    public Tensor allocateOutput(Category c, String owner, DType dtype, Shape shape) {
        return track(backend.allocateUninitialized(dtype, shape), c, owner);
    }

    public Tensor allocatePackedOutput(Category c, String owner, Shape shape, int bits) {
        return track(backend.allocatePackedUninitialized(shape, bits), c, owner);
    }

    private Tensor track(Tensor t, Category c, String owner) {
        categoryOf.put(t, c);
        ownerOf.put(t, owner);
        add(c, t.bytes());
        return t;
    }

    private void add(Category c, long bytes) {
        long v = live.get(c) + bytes;
        live.put(c, v);
        if (v > peak.get(c)) peak.put(c, v);
        liveTotal += bytes;
        if (liveTotal > peakTotal) {
            peakTotal = liveTotal;
            if (atPeak != null) atPeak = snapshot();
        }
    }

    /** Starts recording what is live at each new high-water mark (the planner's details; costs a copy per new peak). */
    public void recordPeakContents() {
        atPeak = snapshot();
    }

    /** Activations, layer state and workspace live at the last high-water mark (after {@link #recordPeakContents}). */
    public List<Entry> peakContents() {
        return atPeak == null ? List.of() : atPeak;
    }

    private List<Entry> snapshot() {
        List<Entry> out = liveEntries(Category.ACTIVATIONS, Category.LAYER_STATE);
        if (workspaceInUse > 0) out.add(new Entry("(op workspace)", "", "bytes", workspaceInUse));
        return out;
    }

    /** Frees a tensor allocated through this ledger. */
    public void free(Tensor t) {
        if (t == null) return;
        Category c = categoryOf.remove(t);
        if (c == null) throw new IllegalStateException("tensor " + t + " was not allocated through the ledger (or freed twice)");
        ownerOf.remove(t);
        add(c, -t.bytes());
        t.close();
    }

    /** Declares op-internal scratch for the duration of one op; pair with {@link #endWorkspace}. */
    public void beginWorkspace(long bytes) {
        workspaceInUse = bytes;
        add(Category.WORKSPACE, bytes);
    }

    public void endWorkspace() {
        add(Category.WORKSPACE, -workspaceInUse);
        workspaceInUse = 0;
    }

    public long live(Category c) {
        return live.get(c);
    }

    public long peak(Category c) {
        return peak.get(c);
    }

    public long liveTotal() {
        return liveTotal;
    }

    public long peakTotal() {
        return peakTotal;
    }

    /** Restarts the high-water marks from the current live values. */
    public void resetPeaks() {
        for (Category c : Category.values()) peak.put(c, live.get(c));
        peakTotal = liveTotal;
    }

    /** Live activation and layer-state tensors, with their owners: at the end of a forward pass, what backward keeps. */
    public List<Entry> liveEntries(Category... categories) {
        List<Entry> out = new ArrayList<>();
        for (var e : categoryOf.entrySet()) {
            for (Category c : categories) {
                if (e.getValue() == c) {
                    Tensor t = e.getKey();
                    String format = t.dtype() == DType.PACKED ? "packed-" + t.bits() : t.dtype().name().toLowerCase();
                    out.add(new Entry(ownerOf.get(t), t.shape().toString(), format, t.bytes()));
                }
            }
        }
        out.sort((a, b) -> a.owner().compareTo(b.owner()));
        return out;
    }
}
