package org.wrpn.dist.gloo;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.pytorch.global.torch;
import org.wrpn.BadInputException;

/**
 * Loads PyTorch's native libraries (c10d, Gloo; ~360 MB unpacked) for multi-process CPU training
 * only. They come from a separate jar, org.bytedeco:pytorch:VERSION:linux-x86_64, that a
 * one-process run never downloads; ranks on one host take turns under a file lock to unpack it into
 * the JavaCPP cache, because processes unpacking into the same empty cache at once crash.
 */
public final class PyTorchNatives {
    /** The preset's version (pom.xml's pytorch.version, as its jar records it); the natives jar must be this one. */
    public static final String VERSION = presetVersion();
    public static final String ARTIFACT = "org.bytedeco:pytorch:" + VERSION + ":jar:linux-x86_64";
    private static volatile boolean loaded;

    private PyTorchNatives() {}

    private static String presetVersion() {
        try (var in = PyTorchNatives.class.getResourceAsStream("/META-INF/maven/org.bytedeco/pytorch/pom.properties")) {
            java.util.Properties p = new java.util.Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Whether the natives jar is on the class path (asked of resources: the GPU bundle carries no JavaCPP class at all). */
    public static boolean available() {
        return PyTorchNatives.class.getResource("/org/bytedeco/pytorch/global/torch.class") != null
                && PyTorchNatives.class.getResource("/org/bytedeco/pytorch/linux-x86_64/libjnitorch.so") != null;
    }

    static synchronized void load() {
        if (loaded) return;
        if (!available()) {
            throw new BadInputException("multi-process training on the CPU needs PyTorch's c10d natives (" + ARTIFACT
                    + ", 90 MB), which are not on the class path: run it through ./wrpn, which fetches them once, or add that jar");
        }
        Path cache = Path.of(System.getProperty("org.bytedeco.javacpp.cachedir", System.getProperty("user.home") + "/.javacpp/cache"));
        try {
            Files.createDirectories(cache);
            try (FileChannel ch = FileChannel.open(cache.resolve("wrpn-pytorch.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                    FileLock lock = ch.lock()) {
                Loader.load(torch.class);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot lock the JavaCPP cache " + cache + ": " + e.getMessage(), e);
        }
        loaded = true;
    }
}
