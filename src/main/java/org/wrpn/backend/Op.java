package org.wrpn.backend;

/** Op families a backend may or may not support, for {@link Backend#supports}. */
public enum Op {
    QUANTIZE_ACTIVATIONS,
    QUANTIZE_WEIGHTS,
    PACK,
    CONV2D,
    BATCH_NORM,
    MAX_POOL,
    GLOBAL_AVG_POOL,
    LINEAR,
    SOFTMAX_CROSS_ENTROPY,
    SGD
}
