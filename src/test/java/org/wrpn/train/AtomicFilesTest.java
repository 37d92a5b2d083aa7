package org.wrpn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<String> listDir() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void createsAndReplacesContent() throws IOException {
        Path target = dir.resolve("config.json");
        AtomicFiles.writeString(target, "first ✓");
        assertEquals("first ✓", Files.readString(target));
        AtomicFiles.writeString(target, "second");
        assertEquals("second", Files.readString(target));
        AtomicFiles.writeBytes(target, new byte[] {0, 1, 2});
        assertArrayEquals(new byte[] {0, 1, 2}, Files.readAllBytes(target));
        AtomicFiles.writeBytes(target, new byte[0]);
        assertEquals(0, Files.size(target));
        assertEquals(List.of("config.json"), listDir());
    }

    @Test
    void writesThroughAHiddenTempFileInTheSameDirectory() throws IOException {
        Path target = dir.resolve("weights.safetensors");
        AtomicFiles.writeString(target, "old");
        List<String> during = new ArrayList<>();
        AtomicFiles.write(target, out -> {
            out.write("new".getBytes());
            during.addAll(listDir());
            assertEquals("old", Files.readString(target));
        });
        assertEquals(2, during.size(), during.toString());
        assertTrue(during.get(0).startsWith(".weights.safetensors.tmp-"), during.toString());
        assertEquals("new", Files.readString(target));
        assertEquals(List.of("weights.safetensors"), listDir());
    }

    @Test
    void largeBodyIsWrittenCompletely() throws IOException {
        Path target = dir.resolve("big.bin");
        byte[] data = new byte[3_000_003];
        for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 31);
        AtomicFiles.write(target, out -> {
            for (int i = 0; i < 1000; i++) out.write(data[i]); // single bytes, then a big block
            out.write(data, 1000, data.length - 1000);
        });
        assertArrayEquals(data, Files.readAllBytes(target));
    }

    @Test
    void failingBodyLeavesOldTargetAndNoTempFile() throws IOException {
        Path target = dir.resolve("state.json");
        AtomicFiles.writeString(target, "intact");
        IOException io = new IOException("disk on fire");
        IOException thrown = assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            out.write(new byte[200_000]);
            throw io;
        }));
        assertSame(io, thrown);
        assertEquals("intact", Files.readString(target));
        assertEquals(List.of("state.json"), listDir());

        assertThrows(UncheckedIOException.class, () -> AtomicFiles.write(target, out -> {
            out.write('x');
            throw new UncheckedIOException(new IOException("unchecked"));
        }));
        assertThrows(IllegalStateException.class, () -> AtomicFiles.write(target, out -> {
            throw new IllegalStateException("bug");
        }));
        assertEquals("intact", Files.readString(target));
        assertEquals(List.of("state.json"), listDir());
    }

    @Test
    void failingBodyWithoutOldTargetCreatesNothing() {
        Path target = dir.resolve("new.json");
        assertThrows(IOException.class, () -> AtomicFiles.write(target, out -> {
            throw new IOException("no");
        }));
        assertFalse(Files.exists(target));
    }

    @Test
    void bodyMayCloseTheStream() throws IOException {
        Path target = dir.resolve("closed.txt");
        AtomicFiles.write(target, out -> {
            out.write("abc".getBytes());
            out.close();
        });
        assertEquals("abc", Files.readString(target));
    }

    @Test
    void refusesDirectoryTargetAndMissingParent() throws IOException {
        Path sub = Files.createDirectory(dir.resolve("sub"));
        assertThrows(IOException.class, () -> AtomicFiles.writeString(sub, "x"));
        assertTrue(Files.isDirectory(sub));
        Path orphan = dir.resolve("missing").resolve("file.txt");
        assertThrows(IOException.class, () -> AtomicFiles.writeString(orphan, "x"));
        assertEquals(List.of("sub"), listDir());
    }

    @Test
    void relativeTargetWorks() throws IOException {
        Path target = Path.of("").toAbsolutePath().relativize(dir.resolve("rel.txt"));
        AtomicFiles.writeString(target, "relative");
        assertEquals("relative", Files.readString(dir.resolve("rel.txt")));
    }
}
