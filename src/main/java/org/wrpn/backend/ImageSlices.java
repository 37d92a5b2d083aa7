package org.wrpn.backend;

import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/** The checks and the arithmetic of {@link Backend#copyImages}, one rule for every backend. */
public final class ImageSlices {
    private ImageSlices() {}

    /** 4-byte words of one image of src, after checking that src and dst hold the same images and the ranges fit. */
    public static long wordsPerImage(Tensor src, Tensor dst, int srcFirst, int dstFirst, int images) {
        boolean sameKind = src.dtype() == dst.dtype() && (src.dtype() == DType.F32 || src.dtype() == DType.PACKED)
                && src.bits() == dst.bits() && src.shape().rank() == dst.shape().rank();
        for (int i = 1; sameKind && i < src.shape().rank(); i++) sameKind = src.shape().dim(i) == dst.shape().dim(i);
        if (!sameKind) throw new IllegalArgumentException("copyImages " + src + " -> " + dst + ": not the same kind of images");
        int ns = src.shape().dim(0), nd = dst.shape().dim(0);
        if (images < 0 || srcFirst < 0 || dstFirst < 0 || srcFirst + (long) images > ns || dstFirst + (long) images > nd) {
            throw new IllegalArgumentException("copyImages of " + images + " images from " + srcFirst + " of " + ns + " to " + dstFirst
                    + " of " + nd);
        }
        return src.bytes() / 4 / ns;
    }
}
