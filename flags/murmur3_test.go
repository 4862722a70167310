package flags

import "testing"

// The expected hashes come from the reference implementation,
// MurmurHash3_x86_32 in Austin Appleby's SMHasher (src/MurmurHash3.cpp),
// compiled and run on these inputs; the seeded ones are the widely published
// vectors for that function.
func TestMurmur3VectorsFromReference(t *testing.T) {
	tests := []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"", 0xffffffff, 0x81f16f39},
		{"\x00", 0, 0x514e28b7},
		{"\x00\x00\x00\x00", 0, 0x2362f9de},
		{"\xff\xff\xff\xff", 0, 0x76293b50},
		{"!Ce\x87", 0, 0xf55b516b},
		{"a", 0, 0x3c2569b2},
		{"ab", 0, 0x9bbfd75f},
		{"abc", 0, 0xb3dd93fa},
		{"abcd", 0, 0x43ed676a},
		{"hello", 0, 0x248bfa47},
		{"Hello, world!", 0, 0xc0363e43},
		{"Hello, world!", 0x9747b28c, 0x24884cba},
		{"aaaa", 0x9747b28c, 0x5a97808a},
		{"The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723},
		{"héllo wörld ✓", 0, 0x0e375ad8},
		{"my-flaguser-1", 0, 0x442a3cef},
		{"headerColorrachel@faas.com", 0, 1805633606},
		{"email", 0, 3737300892},
	}
	for _, tt := range tests {
		if got := murmur3String(tt.in, tt.seed); got != tt.want {
			t.Errorf("murmur3(%q, seed %#x) = %#08x, want %#08x", tt.in, tt.seed, got, tt.want)
		}
	}
}

func BenchmarkMurmur3(b *testing.B) {
	for b.Loop() {
		murmur3String("new-plannerc0a8f3e2-user-4711", 0)
	}
}
