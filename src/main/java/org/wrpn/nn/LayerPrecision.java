package org.wrpn.nn;

/** Bits of a conv/linear layer's weights and of the activations it reads. */
public record LayerPrecision(int weightBits, int inputBits) {
    @Override
    public String toString() {
        return "w" + weightBits + "/a" + inputBits;
    }
}
